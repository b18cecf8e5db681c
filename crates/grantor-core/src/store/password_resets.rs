//! Password-reset links.

use super::StoreResult;
use crate::model::AuditEvent;
use std::future::Future;

/// A single-use link to set a new password; the store keeps only its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub trait PasswordResetStore: Send + Sync {
    fn create_password_reset(
        &self,
        reset: &PasswordReset,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn password_reset(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<PasswordReset>>> + Send;
    /// Uses the link once, atomically: if it is still open at `now`, marks it used, sets the
    /// user's password hash, ends every session of theirs and closes their other open links,
    /// with `audit`, in one transaction. Returns whether the link was still open.
    fn use_password_reset(
        &self,
        reset: &PasswordReset,
        password_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
