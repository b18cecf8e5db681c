//! Grants, with their codes, refresh tokens and consents.

use super::StoreResult;
use crate::scope::ScopeSet;
use std::future::Future;

/// One authorization of an app by a user in an organization: the family that its code,
/// refresh tokens and access tokens belong to, revoked as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub org_id: String,
    pub created_at: i64,
    /// When the last token it can issue without a refresh token (its code's access token)
    /// expires. The grant is kept past this while one of its refresh tokens lives.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub org_id: String,
    /// Present when the authorization request named it, so the token request must repeat it.
    pub redirect_uri: Option<String>,
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub method: crate::model::SignInMethod,
    pub expires_at: i64,
    /// The DPoP key the authorization request named (`dpop_jkt`, RFC 9449 10): the token
    /// request must come with a proof by it.
    pub dpop_jkt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub org_id: String,
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
    pub auth_time: i64,
    pub method: crate::model::SignInMethod,
    pub expires_at: i64,
    /// The DPoP key a public app's refresh token is bound to: refreshing needs a proof by it.
    pub dpop_jkt: Option<String>,
}

/// The outcome of atomically using a single-use value (a code, a refresh token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingleUse<T> {
    /// First use: the record, now marked used.
    Fresh(T),
    /// Already used before: the grant it belongs to, so the family can be revoked.
    Reused {
        grant_id: String,
    },
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    pub org_id: String,
    pub approved: ScopeSet,
    pub denied: ScopeSet,
    pub updated_at: i64,
}

/// A remembered approval as the user sees it on their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    pub consent: ConsentRecord,
    pub app_name: String,
    pub org_name: String,
}

pub trait GrantStore: Send + Sync {
    fn create_grant(&self, grant: &GrantRecord) -> impl Future<Output = StoreResult<()>> + Send;
    fn is_grant_revoked(&self, grant_id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Revokes every grant of `user_id` to `client_id` in `org_id`.
    fn revoke_grants_of(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn insert_code(&self, code: &CodeRecord) -> impl Future<Output = StoreResult<()>> + Send;
    fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<SingleUse<CodeRecord>>> + Send;

    fn insert_refresh_token(
        &self,
        token: &RefreshRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<SingleUse<RefreshRecord>>> + Send;
    fn refresh_token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<(RefreshRecord, bool)>>> + Send;
}

/// Remembered approvals: what a user let an app have in an organization.
pub trait ConsentStore: Send + Sync {
    fn consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Option<ConsentRecord>>> + Send;
    fn put_consent(&self, consent: &ConsentRecord) -> impl Future<Output = StoreResult<()>> + Send;
    fn consents_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ConsentView>>> + Send;
    fn delete_consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
