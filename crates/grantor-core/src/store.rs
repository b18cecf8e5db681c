//! The narrow storage interfaces the core needs. `grantor-store` implements them for SQLite
//! and PostgreSQL; each write of configuration data takes the audit event that records it,
//! so both land in one transaction.

use crate::StoreError;
use crate::jose::Jwk;
use crate::model::{
    ApiToken, App, AuditEvent, Invitation, Membership, OrgAccessGrant, Organization,
    ResourceServer, Role, User,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

pub type StoreResult<T> = Result<T, StoreError>;

/// An app together with the organizations it may act in: what the token endpoint needs to
/// know about a client, served from cache on the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub app: App,
    pub org_name: String,
    pub org_grants: Vec<OrgAccessGrant>,
}

/// One organization's resource servers, indexed by scope. Scope names are unique within a
/// resource server only: `orders:read` of one organization's API is not another's, and one
/// organization may have two APIs with a scope of that name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgResources {
    servers: Vec<ResourceServer>,
    by_scope: HashMap<String, Vec<usize>>,
}

impl OrgResources {
    pub fn new(servers: Vec<ResourceServer>) -> Self {
        let mut by_scope: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rs) in servers.iter().enumerate() {
            for s in &rs.scopes {
                by_scope.entry(s.name.clone()).or_default().push(i);
            }
        }
        Self { servers, by_scope }
    }

    /// The organization's resource servers that declare `scope`.
    pub fn servers_of(&self, scope: &str) -> Vec<&ResourceServer> {
        self.by_scope
            .get(scope)
            .map(|found| found.iter().filter_map(|i| self.servers.get(*i)).collect())
            .unwrap_or_default()
    }
}

/// A part of an ordered list: at most `limit` items after the first `offset`. Lists that grow
/// with an organization or the installation are read a window at a time, never whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
}

impl Window {
    pub const fn first(limit: usize) -> Self {
        Self { offset: 0, limit }
    }
}

/// Cached reads for the protocol's hot paths, each by one key so that no token costs a read
/// of every organization's configuration; a change evicts the entries it names, on every
/// node within a second.
pub trait Registry: Send + Sync {
    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Arc<Client>>>> + Send;
    /// The resource server with this identifier, of whichever organization.
    fn resource_server(
        &self,
        identifier: &str,
    ) -> impl Future<Output = StoreResult<Option<Arc<ResourceServer>>>> + Send;
    /// Organization `org_id`'s resource servers.
    fn org_resources(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Arc<OrgResources>>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published in JWKS, not yet signing.
    Next,
    /// Signing (one per algorithm).
    Active,
    /// No longer signing; published until the tokens it signed have expired.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(Self::Next),
            "active" => Some(Self::Active),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A signing key as stored: the private half sealed under the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: crate::jose::Alg,
    pub state: KeyState,
    pub private_sealed: String,
    pub public_jwk: Jwk,
    pub created_at: i64,
    /// When a `next` key starts signing.
    pub activate_at: i64,
    /// When a `retired` key stops being published.
    pub remove_at: Option<i64>,
}

pub trait KeyStore: Send + Sync {
    fn keys(&self) -> impl Future<Output = StoreResult<Vec<StoredKey>>> + Send;
    fn insert_key(
        &self,
        key: &StoredKey,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Changes a key's state (and when a retired key is to be removed).
    fn update_key(
        &self,
        kid: &str,
        state: KeyState,
        remove_at: Option<i64>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn delete_key(
        &self,
        kid: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

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

/// What became of a change to a membership. Whether it would leave the organization without
/// an owner is decided inside the change's transaction, with the organization's memberships
/// locked, so concurrent changes cannot each rely on the other's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Changed,
    NoSuchMember,
    WouldLeaveNoOwner,
}

/// Management reads and writes: organizations, users, memberships, resource servers, apps
/// and org access grants.
pub trait Directory: Send + Sync {
    fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// By id or by name.
    fn organization(
        &self,
        id_or_name: &str,
    ) -> impl Future<Output = StoreResult<Option<Organization>>> + Send;
    /// Every organization, by name, a window at a time.
    fn organizations(
        &self,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Organization>>> + Send;
    /// The organizations an enabled user belongs to, by name, a window at a time.
    fn organizations_of_user(
        &self,
        user_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Organization>>> + Send;

    fn create_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn user_by_email(&self, email: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user(&self, id: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Makes the user a member with `role`, or gives a member that role; refused (nothing
    /// written) when it would demote the organization's last owner.
    fn put_membership(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<MembershipChange>> + Send;
    /// Removes a member; refused (nothing written) when they are the last owner.
    fn delete_membership(
        &self,
        org_id: &str,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<MembershipChange>> + Send;
    fn memberships_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<Membership>>> + Send;
    /// The user's membership of one organization (none for a disabled user).
    fn membership(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Membership>>> + Send;
    /// One member, by user id or email.
    fn member(
        &self,
        org_id: &str,
        user: &str,
    ) -> impl Future<Output = StoreResult<Option<Membership>>> + Send;
    /// Members by email, a window at a time.
    fn members_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Membership>>> + Send;

    fn create_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn resource_servers(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ResourceServer>>> + Send;
    /// Whether a resource server of any organization declares `scope`.
    fn scope_declared(&self, scope: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Saves a resource server's name and replaces its scopes.
    fn update_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn delete_resource_server(
        &self,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

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

    fn put_org_grant(
        &self,
        grant: &OrgAccessGrant,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn org_grants(
        &self,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// The apps an organization added (its own and other organizations'), a window at a
    /// time.
    fn org_grants_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// The organizations that added each app of `apps(org_id, window)`, in one read.
    fn org_grants_of_apps(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// Removes an app from an organization; returns whether it had been added.
    fn delete_org_grant(
        &self,
        org_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Which audit events to list: all filters optional; newest first, `before` the last one
/// seen, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<AuditPosition>,
    pub limit: i64,
}

/// Where a page of the audit log ended: its last event's time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPosition {
    pub at: i64,
    pub id: String,
}

impl AuditPosition {
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            at: event.at,
            id: event.id.clone(),
        }
    }

    /// As cursors carry it: `at:id`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.at, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once(':')?;
        Some(Self {
            at: at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// The audit log: appended to with every change (see [`Directory`]), read here.
pub trait AuditLog: Send + Sync {
    /// Records an event that changed nothing: a refused attempt.
    fn append_audit_event(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn audit_events(
        &self,
        org_id: &str,
        query: &AuditQuery,
    ) -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
}

/// What is known of an idempotency key when a request claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// New: this request goes ahead and records its answer.
    Claimed,
    /// Another request with this key is still under way.
    InProgress { request: String },
    /// Answered before: `(status, sealed answer)`.
    Answered {
        request: String,
        status: i64,
        response_sealed: String,
    },
}

/// Idempotency keys of management API writes, per caller.
pub trait IdempotencyStore: Send + Sync {
    fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<IdempotencyClaim>> + Send;
    fn record_idempotent_answer(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        response_sealed: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Forgets a claim whose request failed, so a retry may go ahead.
    fn release_idempotency_key(
        &self,
        caller: &str,
        key: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

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

/// Invitations to join an organization, found by the hash of the link's token.
pub trait InvitationStore: Send + Sync {
    fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn invitation_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<Invitation>>> + Send;
    /// The organization's invitations not yet accepted, newest first.
    fn pending_invitations(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<Invitation>>> + Send;
    /// Uses the invitation once, atomically: marks it accepted if it is still open at `now`,
    /// creates `new_user` when given, and makes `user_id` a member with the invitation's role
    /// (a current member keeps their role). Returns whether the invitation was still open.
    fn accept_invitation(
        &self,
        invitation: &Invitation,
        user_id: &str,
        new_user: Option<&User>,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Withdraws an open invitation; returns whether there was one.
    fn delete_invitation(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A signed-in browser session; the cookie holds the id, the store only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

pub trait SessionStore: Send + Sync {
    fn create_session(
        &self,
        session: &SessionRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn session(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    fn delete_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Failed sign-in attempts per throttle key (an account or an address).
pub trait ThrottleStore: Send + Sync {
    /// `(failures, last_failure_at)` for the key, if any failure is on record.
    fn failures(&self, key: &str) -> impl Future<Output = StoreResult<Option<(i64, i64)>>> + Send;
    /// Counts one more attempt, as a failure until given back, but only if the record is
    /// still `seen` (compare-and-set); starts over when the last failure is older than
    /// `window`. Returns whether it was counted.
    fn count_attempt(
        &self,
        key: &str,
        seen: Option<(i64, i64)>,
        now: i64,
        window: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives back one counted attempt that turned out not to be a failure.
    fn refund_attempt(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Counts one more failure (starting over when the last one is older than `window`);
    /// returns the new count.
    fn record_failure(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> impl Future<Output = StoreResult<i64>> + Send;
    fn clear_failures(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

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
    pub scopes: String,
    pub resources: Vec<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub org_id: String,
    pub scopes: String,
    pub resources: Vec<String>,
    pub auth_time: i64,
    pub expires_at: i64,
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
    pub approved: crate::scope::ScopeSet,
    pub denied: crate::scope::ScopeSet,
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

/// Everything the protocol engine needs from storage, for brevity in bounds.
pub trait Storage:
    Registry
    + Directory
    + RevocationStore
    + GrantStore
    + SessionStore
    + ThrottleStore
    + KeyStore
    + ApiTokenStore
    + InvitationStore
    + AuditLog
    + Clone
    + 'static
{
}

impl<T> Storage for T where
    T: Registry
        + Directory
        + RevocationStore
        + GrantStore
        + SessionStore
        + ThrottleStore
        + KeyStore
        + ApiTokenStore
        + InvitationStore
        + AuditLog
        + Clone
        + 'static
{
}
