//! Second factors: a user's TOTP authenticator and its recovery codes.

use super::StoreResult;
use crate::model::AuditEvent;
use std::future::Future;

/// A user's TOTP authenticator. The secret is stored sealed under the key-encryption key;
/// until a first code confirms it, the enrolment is pending and signs nobody in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub user_id: String,
    pub sealed_secret: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted: no code of it or before is taken again.
    pub last_step: i64,
}

pub trait SecondFactorStore: Send + Sync {
    fn totp(&self, user_id: &str) -> impl Future<Output = StoreResult<Option<TotpRecord>>> + Send;
    /// Starts (or restarts) a pending enrolment; does nothing if a confirmed one exists.
    fn start_totp(&self, record: &TotpRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// Confirms the pending enrolment with the step of its first code, and stores the hashes
    /// of its recovery codes (replacing any), with `audit`, in one transaction. Returns
    /// whether a pending enrolment was there to confirm.
    fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_hashes: &[String],
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records that the code of `step` was accepted, atomically and only if `step` is later
    /// than the last accepted one: of two requests with the same code, one wins.
    fn accept_totp_step(
        &self,
        user_id: &str,
        step: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Uses the recovery code with this hash once, atomically; returns whether it was unused.
    fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// How many of the user's recovery codes are still unused.
    fn recovery_codes_left(&self, user_id: &str) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Replaces the user's recovery codes, with `audit`.
    fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_hashes: &[String],
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes the authenticator and its recovery codes, with `audit`.
    fn remove_totp(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
