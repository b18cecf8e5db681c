//! Users' API tokens.

use super::StoreResult;
use crate::model::{ApiToken, AuditEvent, Role};
use std::future::Future;

/// An API token and where its user stands now, as its exchange checks them.
#[derive(Debug, Clone)]
pub struct ApiTokenHolder {
    pub token: ApiToken,
    /// The user, unless they no longer exist.
    pub user: Option<HolderStanding>,
}

/// What an exchange asks of an API token's user.
#[derive(Debug, Clone)]
pub struct HolderStanding {
    pub disabled: bool,
    pub platform_admin: bool,
    /// Their role in the token's organization, unless they left it.
    pub role: Option<Role>,
}

/// Users' API tokens, found by the hash of the token.
pub trait ApiTokenStore: Send + Sync {
    fn create_api_token(
        &self,
        token: &ApiToken,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn api_tokens_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ApiToken>>> + Send;
    /// The token with this hash and where its user stands now, in one read: an exchange
    /// needs both, and scripts exchange often.
    fn api_token_holder(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<ApiTokenHolder>>> + Send;
    fn api_token(&self, id: &str) -> impl Future<Output = StoreResult<Option<ApiToken>>> + Send;
    /// Marks a token revoked; returns whether it was active.
    fn revoke_api_token(
        &self,
        id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records that the token was just exchanged; the store may write it a moment later.
    fn touch_api_token(&self, id: &str, now: i64) -> impl Future<Output = StoreResult<()>> + Send;
}
