//! The domain: organizations, users, memberships, resource servers, apps, org access grants,
//! and audit events.

use crate::scope::ScopeSet;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// Whether its apps, its console and its API tokens need a second factor.
    pub require_second_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub platform_admin: bool,
    pub created_at: i64,
    /// When an administrator disabled the account; it cannot sign in or act until enabled.
    pub disabled_at: Option<i64>,
    /// When the user proved that `email` reaches them (a mailed link, or an invitation
    /// mailed to it); `None` until then.
    pub email_verified_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Developer,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Developer => "developer",
            Self::Member => "member",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "developer" => Ok(Self::Developer),
            "member" => Ok(Self::Member),
            other => Err(format!(
                "unknown role {other:?}: expected owner, developer or member"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub org_id: String,
    pub org_name: String,
    pub user_id: String,
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeDefinition {
    pub name: String,
    pub description: String,
}

/// An API protected by Grantor's tokens, identified by its audience URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceServer {
    pub id: String,
    pub org_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeDefinition>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// Server-to-server: confidential, client credentials.
    Server,
    /// Web: confidential, authorization code.
    Web,
    /// Native/mobile: public, authorization code with PKCE.
    Native,
}

impl AppType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Web => "web",
            Self::Native => "native",
        }
    }
    pub fn is_confidential(self) -> bool {
        !matches!(self, Self::Native)
    }
}

impl FromStr for AppType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "server" => Ok(Self::Server),
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(format!(
                "unknown app type {other:?}: expected server, web or native"
            )),
        }
    }
}

/// Grant types; the two legacy ones and the device grant are off unless enabled per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
    Password,
    Implicit,
    /// RFC 8693, for users' API tokens; no app is involved.
    TokenExchange,
    /// RFC 8628, for devices without a browser (TVs, command-line tools).
    DeviceCode,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
            Self::Implicit => "implicit",
            Self::TokenExchange => crate::grant::token_exchange::GRANT_TYPE,
            Self::DeviceCode => crate::grant::device_code::GRANT_TYPE,
        }
    }
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::Password | Self::Implicit)
    }
}

/// A legacy grant an app may opt into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyGrant {
    Password,
    Implicit,
}

impl FromStr for LegacyGrant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "password" => Ok(Self::Password),
            "implicit" => Ok(Self::Implicit),
            other => Err(format!(
                "unknown legacy grant {other:?}: expected password or implicit"
            )),
        }
    }
}

/// Whether `s` has the shape of an app ID: `app_` and 32 lowercase hex digits, as
/// [`crate::secret::new_id`] makes them. Anything else names no app and is refused before
/// any lookup.
pub fn is_app_id(s: &str) -> bool {
    s.strip_prefix("app_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An OAuth app (client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub client_id: String,
    pub org_id: String,
    pub name: String,
    pub app_type: AppType,
    /// SHA-256 of the current secret; `None` for native apps.
    pub secret_hash: Option<String>,
    /// The previous secret, still accepted until `previous_secret_expires_at` (a grace period
    /// chosen at regeneration; zero by default).
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: i64,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes this app may ask for.
    pub scopes: ScopeSet,
    pub allow_password: bool,
    pub allow_implicit: bool,
    /// Whether the app may use the device grant (RFC 8628); never for server apps.
    pub allow_device_code: bool,
    /// Access token lifetime for this app, in seconds.
    pub access_token_ttl: i64,
    pub created_at: i64,
    /// The public keys a `private_key_jwt` app (RFC 7523) signs its assertions with; such an
    /// app has no secret at all. `None` for apps with a secret and for native apps.
    pub keys: Option<AppKeys>,
    /// Authorization requests for this app must come through PAR (RFC 9126 6).
    pub require_par: bool,
}

/// Where a `private_key_jwt` app's public keys are: a JWKS document registered with the app,
/// or a URL the server fetches it from (and caches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppKeys {
    /// The JWKS document as registered (checked: public keys only, bounded).
    Jwks(String),
    /// An https URL serving the app's JWKS.
    Uri(String),
}

/// How an app authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    ClientSecretBasic,
    PrivateKeyJwt,
    None,
}

impl TokenEndpointAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

impl App {
    /// The grant types this app's type and settings allow.
    pub fn grant_types(&self) -> Vec<GrantType> {
        let mut grants = match self.app_type {
            AppType::Server => vec![GrantType::ClientCredentials],
            AppType::Web | AppType::Native => {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            }
        };
        if self.allow_password {
            grants.push(GrantType::Password);
        }
        if self.allow_implicit {
            grants.push(GrantType::Implicit);
        }
        if self.allow_device_code && self.app_type != AppType::Server {
            grants.push(GrantType::DeviceCode);
        }
        grants
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types().contains(&grant)
    }

    /// How the app authenticates: with keys, with a secret (Basic or in the body), or not
    /// at all (native apps).
    pub fn auth_method(&self) -> TokenEndpointAuthMethod {
        match (&self.keys, &self.secret_hash) {
            (Some(_), _) => TokenEndpointAuthMethod::PrivateKeyJwt,
            (None, Some(_)) => TokenEndpointAuthMethod::ClientSecretBasic,
            (None, None) => TokenEndpointAuthMethod::None,
        }
    }
}

/// An owner's decision that an app may get tokens in their organization, with these scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgAccessGrant {
    pub org_id: String,
    pub org_name: String,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub created_at: i64,
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A long-lived credential a user made for scripts that must act as themselves in one
/// organization; exchanged at the token endpoint for short access tokens. Only its hash is
/// kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: ScopeSet,
    #[serde(skip)]
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An owner's invitation for `email` to join an organization with `role`: a single-use link
/// that expires. Only the hash of the link's token is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    #[serde(skip)]
    pub token_hash: String,
    /// Who invited, as the audit log names them.
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    /// Whether Grantor mailed the link to `email`: accepting it then proves the address.
    pub mailed: bool,
}

/// What a user's access token confines them to: its organization and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLimits {
    pub org_id: String,
    pub scopes: ScopeSet,
}

/// Who did something: the subject of audit events and of policy checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator at the `grantor` CLI, with direct database access.
    Operator,
    /// A signed-in user (console) or a user's token (management API).
    User {
        user_id: String,
        platform_admin: bool,
        /// The token the user acts through (management API); `None` for a browser session,
        /// which acts with the user's whole role in every organization.
        token: Option<TokenLimits>,
    },
    /// An admin client: a server app holding Grantor's management scopes in one org.
    AdminClient {
        client_id: String,
        org_id: String,
        scopes: ScopeSet,
    },
    /// A dynamic registration (RFC 7591/7592) acting on its own app only: the holder of its
    /// registration access token, or the anonymous registration being bound to the
    /// organization whose owner opened registration.
    Registration { client_id: String, org_id: String },
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Self::Operator => "cli".to_string(),
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::AdminClient { client_id, .. } => format!("app:{client_id}"),
            Self::Registration { client_id, .. } => format!("registration:{client_id}"),
        }
    }
}

/// Who asks for something and from where: the request context that `Manager` checks and
/// writes into the audit log. It reads as its actor for policy checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// The client's address as the server saw it (after trusted proxies); `None` at the CLI.
    pub source: Option<String>,
    /// A rehearsal: `Manager` checks everything as for the real request, then stops with
    /// [`crate::ServiceError::Rehearsed`] where it would write. The management API rehearses
    /// a retried request before replaying its first answer, so that answer (which may hold a
    /// secret) reaches only a caller who may make the request now.
    pub rehearsal: bool,
}

impl Caller {
    pub fn new(actor: Actor, source: Option<std::net::IpAddr>) -> Self {
        Self {
            actor,
            source: source.map(|ip| ip.to_string()),
            rehearsal: false,
        }
    }

    /// The operator at the CLI.
    pub fn operator() -> Self {
        Self {
            actor: Actor::Operator,
            source: None,
            rehearsal: false,
        }
    }
}

impl std::ops::Deref for Caller {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.actor
    }
}

/// An append-only record of a change to configuration data; written in the same transaction
/// as the change. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub org_id: Option<String>,
    pub source: Option<String>,
    pub outcome: AuditOutcome,
    /// What the change was, as a JSON object of named values: never free text that a
    /// name could forge a line of.
    pub details: serde_json::Value,
}

/// The authentication context class of a sign-in with the password alone.
pub const ACR_PWD: &str = "urn:grantor:acr:pwd";
/// The authentication context class of a sign-in with a second factor.
pub const ACR_MFA: &str = "urn:grantor:acr:mfa";
/// Both, weakest first, as discovery advertises them.
pub const ACR_VALUES: [&str; 2] = [ACR_PWD, ACR_MFA];

/// How a user signed in, for the ID token's `amr` (RFC 8176): remembered by the session
/// and carried by the codes and refresh tokens issued under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignInMethod {
    #[default]
    Password,
    /// A password, then a code of an authenticator app (or a recovery code).
    PasswordAndTotp,
    /// A passkey alone, user-verified: `hwk` for one bound to its device, `swk` for one that
    /// may be synced (the BE flag), and `mfa` (the device and its PIN or biometric).
    Passkey { synced: bool },
    /// A password, then a passkey.
    PasswordAndPasskey { synced: bool },
}

impl SignInMethod {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndTotp => "pwd otp",
            Self::Passkey { synced: false } => "hwk mfa",
            Self::Passkey { synced: true } => "swk mfa",
            Self::PasswordAndPasskey { synced: false } => "pwd hwk mfa",
            Self::PasswordAndPasskey { synced: true } => "pwd swk mfa",
        }
    }

    /// From the stored form; anything unknown counts as the password alone, the weaker claim.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "pwd otp" => Self::PasswordAndTotp,
            "hwk mfa" => Self::Passkey { synced: false },
            "swk mfa" => Self::Passkey { synced: true },
            "pwd hwk mfa" => Self::PasswordAndPasskey { synced: false },
            "pwd swk mfa" => Self::PasswordAndPasskey { synced: true },
            _ => Self::Password,
        }
    }

    /// Whether the sign-in used a second factor after the password.
    pub fn is_multi_factor(self) -> bool {
        self.amr().contains(&"mfa")
    }

    /// The `acr` value (OIDC Core 2): [`ACR_MFA`] after a second factor, else [`ACR_PWD`].
    pub fn acr(self) -> &'static str {
        if self.is_multi_factor() {
            ACR_MFA
        } else {
            ACR_PWD
        }
    }

    /// The `amr` values (RFC 8176 section 2).
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndTotp => &["pwd", "otp", "mfa"],
            Self::Passkey { synced: false } => &["hwk", "mfa"],
            Self::Passkey { synced: true } => &["swk", "mfa"],
            Self::PasswordAndPasskey { synced: false } => &["pwd", "hwk", "mfa"],
            Self::PasswordAndPasskey { synced: true } => &["pwd", "swk", "mfa"],
        }
    }
}

/// What an audit event records: one kind of change, or an attempt the policy refused (named
/// by the policy's action). Stored and shown by name, as `app.create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    OrganizationCreate,
    UserCreate,
    UserDisable,
    UserEnable,
    UserChangePassword,
    UserSetPassword,
    UserRequestPasswordReset,
    UserResetPassword,
    UserEndSession,
    UserEnrolTotp,
    UserRemoveTotp,
    UserRegenerateRecoveryCodes,
    UserAddPasskey,
    UserRemovePasskey,
    UserRequestEmailVerification,
    UserVerifyEmail,
    OrganizationUpdate,
    MemberPut,
    MemberRemove,
    MemberInvite,
    MemberWithdrawInvitation,
    MemberAcceptInvitation,
    ResourceServerCreate,
    ResourceServerUpdate,
    ResourceServerDelete,
    AppCreate,
    AppUpdate,
    AppDelete,
    AppRegenerateSecret,
    /// The public keys of a `private_key_jwt` app replaced (an owner's change, like a secret).
    AppReplaceKeys,
    AppAddToOrganization,
    AppRemoveFromOrganization,
    ApiTokenCreate,
    ApiTokenRevoke,
    KeyCreate,
    KeyActivate,
    KeyRetire,
    KeyRemove,
    RegistrationOpen,
    RegistrationClose,
    /// An anonymous dynamic registration, kept pending until an organization takes it.
    RegistrationCreate,
    /// An attempt refused by the policy (its outcome is [`AuditOutcome::Refused`]).
    Attempt(crate::policy::Action),
}

impl AuditAction {
    const CHANGES: [Self; 41] = [
        Self::OrganizationCreate,
        Self::UserCreate,
        Self::UserDisable,
        Self::UserEnable,
        Self::UserChangePassword,
        Self::UserSetPassword,
        Self::UserRequestPasswordReset,
        Self::UserResetPassword,
        Self::UserEndSession,
        Self::UserEnrolTotp,
        Self::UserRemoveTotp,
        Self::UserRegenerateRecoveryCodes,
        Self::UserAddPasskey,
        Self::UserRemovePasskey,
        Self::UserRequestEmailVerification,
        Self::UserVerifyEmail,
        Self::OrganizationUpdate,
        Self::MemberPut,
        Self::MemberRemove,
        Self::MemberInvite,
        Self::MemberWithdrawInvitation,
        Self::MemberAcceptInvitation,
        Self::ResourceServerCreate,
        Self::ResourceServerUpdate,
        Self::ResourceServerDelete,
        Self::AppCreate,
        Self::AppUpdate,
        Self::AppDelete,
        Self::AppRegenerateSecret,
        Self::AppReplaceKeys,
        Self::AppAddToOrganization,
        Self::AppRemoveFromOrganization,
        Self::ApiTokenCreate,
        Self::ApiTokenRevoke,
        Self::KeyCreate,
        Self::KeyActivate,
        Self::KeyRetire,
        Self::KeyRemove,
        Self::RegistrationOpen,
        Self::RegistrationClose,
        Self::RegistrationCreate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganizationCreate => "organization.create",
            Self::UserCreate => "user.create",
            Self::UserDisable => "user.disable",
            Self::UserEnable => "user.enable",
            Self::UserChangePassword => "user.change_password",
            Self::UserSetPassword => "user.set_password",
            Self::UserRequestPasswordReset => "user.request_password_reset",
            Self::UserResetPassword => "user.reset_password",
            Self::UserEndSession => "user.end_session",
            Self::UserEnrolTotp => "user.enrol_totp",
            Self::UserRemoveTotp => "user.remove_totp",
            Self::UserRegenerateRecoveryCodes => "user.regenerate_recovery_codes",
            Self::UserAddPasskey => "user.add_passkey",
            Self::UserRemovePasskey => "user.remove_passkey",
            Self::UserRequestEmailVerification => "user.request_email_verification",
            Self::UserVerifyEmail => "user.verify_email",
            Self::OrganizationUpdate => "organization.update",
            Self::MemberPut => "member.put",
            Self::MemberRemove => "member.remove",
            Self::MemberInvite => "member.invite",
            Self::MemberWithdrawInvitation => "member.withdraw_invitation",
            Self::MemberAcceptInvitation => "member.accept_invitation",
            Self::ResourceServerCreate => "resource_server.create",
            Self::ResourceServerUpdate => "resource_server.update",
            Self::ResourceServerDelete => "resource_server.delete",
            Self::AppCreate => "app.create",
            Self::AppUpdate => "app.update",
            Self::AppDelete => "app.delete",
            Self::AppRegenerateSecret => "app.regenerate_secret",
            Self::AppReplaceKeys => "app.replace_keys",
            Self::AppAddToOrganization => "app.add_to_organization",
            Self::AppRemoveFromOrganization => "app.remove_from_organization",
            Self::ApiTokenCreate => "api_token.create",
            Self::ApiTokenRevoke => "api_token.revoke",
            Self::KeyCreate => "key.create",
            Self::KeyActivate => "key.activate",
            Self::KeyRetire => "key.retire",
            Self::KeyRemove => "key.remove",
            Self::RegistrationOpen => "registration.open",
            Self::RegistrationClose => "registration.close",
            Self::RegistrationCreate => "registration.create",
            Self::Attempt(action) => action.name(),
        }
    }

    /// The action with this name, as stored.
    pub fn parse(name: &str) -> Option<Self> {
        Self::CHANGES
            .into_iter()
            .find(|a| a.as_str() == name)
            .or_else(|| crate::policy::Action::named(name).map(Self::Attempt))
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether what an audit event records was done or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Refused,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Refused => "refused",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Success, Self::Refused]
            .into_iter()
            .find(|o| o.as_str() == name)
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
