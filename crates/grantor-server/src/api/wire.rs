//! What the management API reads and writes, as its OpenAPI document describes it: bodies with
//! their serde and schema derives, converted from and to the core's domain types here, so the
//! core knows nothing of JSON field names or schemas. Bodies that one handler alone reads
//! (`NewAppBody`, `Addition`...) sit beside that handler. The CLI prints apps as [`AppView`]
//! shows them, the same as the API.

use grantor_core::ServiceError;
use grantor_core::manage::{self, AppWithSecret};
use grantor_core::model::{self, App, AppKeys};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every item of a list in its wire shape.
pub fn all<T, W: From<T>>(items: impl IntoIterator<Item = T>) -> Vec<W> {
    items.into_iter().map(W::from).collect()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// Whether signing in to its apps, using its console and exchanging its API tokens need
    /// a second factor.
    pub require_second_factor: bool,
}

impl From<model::Organization> for Organization {
    fn from(org: model::Organization) -> Self {
        Self {
            id: org.id,
            name: org.name,
            created_at: org.created_at,
            require_second_factor: org.require_second_factor,
        }
    }
}

/// Changes to an organization's settings; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationChanges {
    /// Require a second factor (owners).
    pub require_second_factor: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Developer,
    Owner,
}

impl From<model::Role> for Role {
    fn from(role: model::Role) -> Self {
        match role {
            model::Role::Member => Self::Member,
            model::Role::Developer => Self::Developer,
            model::Role::Owner => Self::Owner,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Membership {
    pub org_id: String,
    pub org_name: String,
    pub user_id: String,
    pub email: String,
    pub role: Role,
    /// Whether the member has a second factor set up: shown to those who manage members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<bool>,
}

impl From<model::Membership> for Membership {
    fn from(m: model::Membership) -> Self {
        Self {
            org_id: m.org_id,
            org_name: m.org_name,
            user_id: m.user_id,
            email: m.email,
            role: m.role.into(),
            second_factor: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeDefinition {
    pub name: String,
    pub description: String,
}

impl From<model::ScopeDefinition> for ScopeDefinition {
    fn from(s: model::ScopeDefinition) -> Self {
        Self {
            name: s.name,
            description: s.description,
        }
    }
}

impl From<ScopeDefinition> for model::ScopeDefinition {
    fn from(s: ScopeDefinition) -> Self {
        Self {
            name: s.name,
            description: s.description,
        }
    }
}

/// An API protected by Grantor's tokens, identified by its audience URI.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceServer {
    pub id: String,
    pub org_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeDefinition>,
    pub created_at: i64,
}

impl From<model::ResourceServer> for ResourceServer {
    fn from(rs: model::ResourceServer) -> Self {
        Self {
            id: rs.id,
            org_id: rs.org_id,
            identifier: rs.identifier,
            name: rs.name,
            scopes: all(rs.scopes),
            created_at: rs.created_at,
        }
    }
}

/// What may change about a resource server; `None` keeps the current value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<ScopeDefinition>>,
}

impl From<ResourceServerChanges> for manage::ResourceServerChanges {
    fn from(changes: ResourceServerChanges) -> Self {
        Self {
            name: changes.name,
            scopes: changes.scopes.map(all),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// Server-to-server: confidential, client credentials.
    Server,
    /// Web: confidential, authorization code.
    Web,
    /// Native/mobile: public, authorization code with PKCE.
    Native,
}

impl From<model::AppType> for AppType {
    fn from(t: model::AppType) -> Self {
        match t {
            model::AppType::Server => Self::Server,
            model::AppType::Web => Self::Web,
            model::AppType::Native => Self::Native,
        }
    }
}

impl From<AppType> for model::AppType {
    fn from(t: AppType) -> Self {
        match t {
            AppType::Server => Self::Server,
            AppType::Web => Self::Web,
            AppType::Native => Self::Native,
        }
    }
}

/// A legacy grant an app may opt into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LegacyGrant {
    Password,
    Implicit,
}

impl From<LegacyGrant> for model::LegacyGrant {
    fn from(g: LegacyGrant) -> Self {
        match g {
            LegacyGrant::Password => Self::Password,
            LegacyGrant::Implicit => Self::Implicit,
        }
    }
}

/// A grant an app may opt into that is not legacy: `device_code`, the device authorization
/// grant (RFC 8628), for web and native apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptInGrant {
    DeviceCode,
}

/// An owner's decision that an app may get tokens in their organization, with these scopes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgAccessGrant {
    pub org_id: String,
    pub org_name: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
}

impl From<model::OrgAccessGrant> for OrgAccessGrant {
    fn from(g: model::OrgAccessGrant) -> Self {
        Self {
            scopes: g.scopes.iter().map(str::to_string).collect(),
            org_id: g.org_id,
            org_name: g.org_name,
            client_id: g.client_id,
            created_at: g.created_at,
        }
    }
}

/// How an app is shown by the CLI and the management API. Legacy grants are listed apart so
/// nobody mistakes them for recommended ones.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(rename = "type")]
    pub app_type: AppType,
    pub name: String,
    pub org_id: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub legacy_grant_types: Vec<&'static str>,
    pub token_endpoint_auth_method: &'static str,
    /// The app's public keys (`private_key_jwt`), when registered as a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where the app's public keys are fetched from (`private_key_jwt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Authorization requests must come through PAR (RFC 9126 6).
    pub require_pushed_authorization_requests: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<OrgAccessGrant>>,
    pub created_at: i64,
}

impl AppView {
    pub fn new(app: &App) -> Self {
        let grants = app.grant_types();
        Self {
            client_id: app.client_id.clone(),
            client_secret: None,
            app_type: app.app_type.into(),
            name: app.name.clone(),
            org_id: app.org_id.clone(),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            scopes: app.scopes.iter().map(str::to_string).collect(),
            grant_types: grants
                .iter()
                .filter(|g| !g.is_legacy())
                .map(|g| g.as_str())
                .collect(),
            legacy_grant_types: grants
                .iter()
                .filter(|g| g.is_legacy())
                .map(|g| g.as_str())
                .collect(),
            token_endpoint_auth_method: app.auth_method().as_str(),
            jwks: match &app.keys {
                Some(AppKeys::Jwks(doc)) => serde_json::from_str(doc).ok(),
                _ => None,
            },
            jwks_uri: match &app.keys {
                Some(AppKeys::Uri(uri)) => Some(uri.clone()),
                _ => None,
            },
            require_pushed_authorization_requests: app.require_par,
            access_token_ttl: (app.access_token_ttl > 0).then_some(app.access_token_ttl),
            previous_secret_valid_until: None,
            organizations: None,
            created_at: app.created_at,
        }
    }

    /// An app just made or given a new secret: the secret, shown this once.
    pub fn with_secret(created: &AppWithSecret) -> Self {
        Self {
            client_secret: created.client_secret.clone(),
            previous_secret_valid_until: created.previous_secret_valid_until,
            ..Self::new(&created.app)
        }
    }

    /// An app with the organizations that added it.
    pub fn with_organizations(app: &App, grants: Vec<model::OrgAccessGrant>) -> Self {
        Self {
            organizations: Some(all(grants)),
            ..Self::new(app)
        }
    }
}

/// What may change about an app after it was registered; `None` keeps the current value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub access_token_ttl: Option<i64>,
    pub require_pushed_authorization_requests: Option<bool>,
}

impl From<AppChanges> for manage::AppChanges {
    fn from(changes: AppChanges) -> Self {
        Self {
            name: changes.name,
            redirect_uris: changes.redirect_uris,
            post_logout_redirect_uris: changes.post_logout_redirect_uris,
            scopes: changes.scopes,
            access_token_ttl: changes.access_token_ttl,
            require_par: changes.require_pushed_authorization_requests,
        }
    }
}

/// An app's public keys for `private_key_jwt`: a JWKS document or a URL serving one, not
/// both.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppKeysBody {
    /// A JWKS document (RFC 7517 5) of public keys, ES256 or RS256: at most 10 keys, 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// An https URL serving the app's JWKS.
    pub jwks_uri: Option<String>,
}

impl AppKeysBody {
    /// The keys given, if any; checked in full by `Manager`.
    pub fn keys(self) -> Result<Option<AppKeys>, ServiceError> {
        match (self.jwks, self.jwks_uri) {
            (Some(_), Some(_)) => Err(ServiceError::field(
                "jwks_uri",
                "give the app's keys as jwks or as jwks_uri, not both",
            )),
            (Some(doc), None) => Ok(Some(AppKeys::Jwks(doc.to_string()))),
            (None, Some(uri)) => Ok(Some(AppKeys::Uri(uri))),
            (None, None) => Ok(None),
        }
    }
}

/// A long-lived credential a user made for scripts that must act as themselves in one
/// organization; exchanged at the token endpoint for short access tokens. Only its hash is
/// kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub org_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<model::ApiToken> for ApiToken {
    fn from(t: model::ApiToken) -> Self {
        Self {
            scopes: t.scopes.iter().map(str::to_string).collect(),
            id: t.id,
            user_id: t.user_id,
            org_id: t.org_id,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// An append-only record of a change to configuration data; written in the same transaction
/// as the change. Never holds a secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub org_id: Option<String>,
    pub source: Option<String>,
    pub outcome: String,
    /// What the change was, as a JSON object of named values: never free text that a
    /// name could forge a line of.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<model::AuditEvent> for AuditEvent {
    fn from(e: model::AuditEvent) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action.to_string(),
            target: e.target,
            org_id: e.org_id,
            source: e.source,
            outcome: e.outcome.to_string(),
            details: e.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantor_core::scope::ScopeSet;
    use serde_json::json;

    /// The API shows what the core's own serialization (the CLI's output) shows: the wire
    /// types add a schema, not a different shape.
    #[test]
    fn wire_shapes_serialize_as_the_domain_types_do() {
        let grant = model::OrgAccessGrant {
            org_id: "org_1".into(),
            org_name: "acme".into(),
            client_id: "app_1".into(),
            scopes: ScopeSet::parse("trades:read openid").unwrap(),
            created_at: 7,
        };
        assert_eq!(
            serde_json::to_value(OrgAccessGrant::from(grant.clone())).unwrap(),
            serde_json::to_value(&grant).unwrap()
        );
        let token = model::ApiToken {
            id: "tok_1".into(),
            user_id: "usr_1".into(),
            org_id: "org_1".into(),
            name: "ci".into(),
            scopes: ScopeSet::parse("grantor:apps").unwrap(),
            token_hash: "secret hash".into(),
            created_at: 1,
            expires_at: 2,
            last_used_at: None,
            revoked_at: Some(3),
        };
        let shown = serde_json::to_value(ApiToken::from(token.clone())).unwrap();
        assert_eq!(shown, serde_json::to_value(&token).unwrap());
        assert!(shown.get("token_hash").is_none(), "{shown}");
        let member = model::Membership {
            org_id: "org_1".into(),
            org_name: "acme".into(),
            user_id: "usr_1".into(),
            email: "a@acme.example".into(),
            role: model::Role::Developer,
        };
        assert_eq!(
            serde_json::to_value(Membership::from(member)).unwrap()["role"],
            json!("developer")
        );
    }
}
