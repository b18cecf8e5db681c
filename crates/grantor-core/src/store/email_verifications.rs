//! Email verification links.

use super::StoreResult;
use crate::model::AuditEvent;
use std::future::Future;

/// A single-use link that proves `email` reaches its user; the store keeps only its token's
/// hash. The address is the one it was mailed to: after a change of email it proves nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailVerification {
    pub token_hash: String,
    pub user_id: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub trait EmailVerificationStore: Send + Sync {
    fn create_email_verification(
        &self,
        link: &EmailVerification,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn email_verification(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<EmailVerification>>> + Send;
    /// Uses the link once, atomically: if it is still open at `now`, marks it (and the user's
    /// other open links) used and marks the user's email verified, provided it is still the
    /// address the link was mailed to, with `audit`. Returns whether the link was open.
    fn use_email_verification(
        &self,
        link: &EmailVerification,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Marks (or, with `None`, unmarks) the user's email verified, with `audit`: the
    /// operator's word for it.
    fn set_email_verified(
        &self,
        user_id: &str,
        verified_at: Option<i64>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
