//! Apps (OAuth clients).

use super::StoreResult;
use super::Window;
use crate::model::{App, AuditEvent};
use std::future::Future;

/// Apps as their organization manages them (the hot path reads them through
/// [`super::Registry`]).
pub trait AppStore: Send + Sync {
    fn create_app(
        &self,
        app: &App,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes an app with its grants, codes, consents and organization access.
    fn delete_app(
        &self,
        client_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Saves an app's settings (name, redirect URIs, scopes, token lifetime).
    fn update_app(
        &self,
        app: &App,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn app(&self, client_id: &str) -> impl Future<Output = StoreResult<Option<App>>> + Send;
    /// An organization's apps by name, a window at a time.
    fn apps(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<App>>> + Send;
    /// Replaces the app's secret hash, keeping the previous one until `previous_expires_at`.
    fn set_app_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_hash: Option<&str>,
        previous_expires_at: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
