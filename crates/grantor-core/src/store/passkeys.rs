//! Passkeys: WebAuthn credentials a user registered, by credential id.

use super::StoreResult;
use crate::model::AuditEvent;
use std::future::Future;

/// A registered passkey. Only public data: the credential id and public key are what the
/// authenticator shows any relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: String,
    pub user_id: String,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The COSE public key, base64url.
    pub public_key: String,
    /// Its COSE algorithm (-7 ES256, -257 RS256).
    pub alg: i64,
    pub sign_count: i64,
    /// The person's name for it ("Laptop", "Phone").
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What adding a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyAdded {
    Added,
    /// The user has `max` passkeys already.
    AtLimit,
    /// The credential is registered already (to this account or another).
    Duplicate,
}

pub trait PasskeyStore: Send + Sync {
    /// The user's passkeys, oldest first.
    fn passkeys(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<PasskeyRecord>>> + Send;
    fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> impl Future<Output = StoreResult<Option<PasskeyRecord>>> + Send;
    /// Adds a passkey, with `audit`, unless the user has `max` already or the credential is
    /// known.
    fn add_passkey(
        &self,
        record: &PasskeyRecord,
        max: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<PasskeyAdded>> + Send;
    /// Records a use with the new signature count, atomically and only if the count moved
    /// forward from `previous` (or both are zero): of two uses of one assertion, one wins.
    fn use_passkey(
        &self,
        id: &str,
        previous: i64,
        sign_count: i64,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Removes the user's passkey `id`, with `audit`; returns whether it was there.
    fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
