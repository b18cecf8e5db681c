//! Revoked access tokens.

use super::StoreResult;
use std::future::Future;

/// Revoked JWT access tokens, remembered by `jti` until they would have expired anyway.
pub trait RevocationStore: Send + Sync {
    fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Whether a token is revoked: by its `jti`, or (for user tokens) through its grant, or
    /// the API token it was exchanged for, being revoked. Introspection asks this on every
    /// call, so it should be answered from memory.
    fn is_access_token_revoked(
        &self,
        jti: &str,
        grant_id: Option<&str>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
