//! Dynamic client registration (RFC 7591, RFC 7592): each registration's record (the hash of
//! its registration access token and the metadata it registered), pending until an
//! organization takes it when anonymous, and the organizations open to anonymous registration.

use super::StoreResult;
use crate::model::{App, AuditEvent};
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// The app ID given at registration, the app's once bound.
    pub client_id: String,
    /// SHA-256 of the registration access token.
    pub token_hash: String,
    /// The checked metadata, as JSON (`crate::registration::ClientMetadata`).
    pub metadata: String,
    /// Whether an app exists for it (registered with an initial access token, or bound).
    pub bound: bool,
    pub created_at: i64,
    /// When a pending registration lapses unbound (ignored once bound).
    pub expires_at: i64,
}

/// What became of an attempt to bind a pending registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Bound,
    /// Not pending (bound meanwhile, deleted or expired): nothing was written.
    Gone,
    /// The organization holds its most dynamically registered apps: nothing was written.
    Full,
}

pub trait RegistrationStore: Send + Sync {
    /// The registration of `client_id`, pending (unexpired at `now`) or bound.
    fn registration(
        &self,
        client_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<Option<RegistrationRecord>>> + Send;
    /// Stores a pending registration unless `max_pending` unexpired ones wait already;
    /// returns whether it was stored.
    fn insert_pending_registration(
        &self,
        record: &RegistrationRecord,
        max_pending: i64,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Replaces a pending registration's metadata; returns whether it was still pending.
    fn update_pending_registration(
        &self,
        client_id: &str,
        metadata: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes a pending registration; returns whether it was still pending.
    fn delete_pending_registration(
        &self,
        client_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Creates `app` (of the pending registration with its client_id) and marks the
    /// registration bound, in one transaction with `audit`, unless it is no longer pending
    /// at `now` or the app's organization already has `max_per_org` registered apps.
    fn bind_registration(
        &self,
        app: &App,
        now: i64,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<Binding>> + Send;
    /// Creates `app` with its (bound) registration record in one transaction with `audit`,
    /// unless its organization already has `max_per_org` registered apps (then `Full`).
    fn register_app(
        &self,
        app: &App,
        record: &RegistrationRecord,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<Binding>> + Send;
    /// The scopes (space-separated) an organization open to anonymous registration lets
    /// such apps ask for; `None` while it is closed.
    fn registration_ceiling(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Whether any organization is open to anonymous registration.
    fn any_registration_open(&self) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Opens an organization to anonymous registration with this ceiling (replacing the
    /// last), or closes it (`None`).
    fn set_registration_ceiling(
        &self,
        org_id: &str,
        scopes: Option<&str>,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
