//! User accounts.

use super::StoreResult;
use crate::model::{AuditEvent, User};
use std::future::Future;

/// Users, found by id or email.
pub trait UserStore: Send + Sync {
    fn create_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn user_by_email(&self, email: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user(&self, id: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Sets a user's password hash and ends every session of theirs but `keep_session` (the
    /// hash of the session that made the change, if any), in one transaction with `audit`:
    /// whoever knew the old password is signed out as the new one lands.
    fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Disabling also ends every session of the user, in the same transaction.
    fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
