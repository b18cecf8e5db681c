//! Dynamic client registration (RFC 7591) and its management (RFC 7592): reading the
//! metadata a client sends, bounded and checked field by field, and the answer it gets.
//! `Manager` (manage/registrations.rs) registers, binds and changes; this module knows only
//! the protocol's shapes.
//!
//! Unknown fields are ignored (RFC 7591 2). Errors are `invalid_redirect_uri` or
//! `invalid_client_metadata`, whose description names the field.

use crate::manage::{NewApp, validate_redirect_uri};
use crate::model::{App, AppKeys, AppType};
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most redirect URIs (and, apart, post-logout redirect URIs) a registration may list.
pub const MAX_REDIRECT_URIS: usize = 10;
/// The longest redirect URI accepted, in bytes.
pub const MAX_URI_BYTES: usize = 2000;
/// The longest `client_name`, in characters (an app name's bound).
pub const MAX_NAME_CHARS: usize = 100;
/// The longest `scope` string, in bytes, and the most scopes in it.
pub const MAX_SCOPE_BYTES: usize = 1000;
pub const MAX_SCOPES: usize = 50;
/// The name an app registered without `client_name` gets.
pub const DEFAULT_NAME: &str = "Registered app";

/// How a registered app authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public (native) app: no secret, PKCE.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// A signed assertion by one of the keys registered with `jwks` or `jwks_uri` (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// What a client registered, checked: the parts Grantor keeps. Stored (as JSON) with a
/// pending registration until it becomes an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub auth_method: AuthMethod,
    /// `client_credentials` rather than `authorization_code` (+ `refresh_token`).
    pub client_credentials: bool,
    /// The scopes asked for, if any.
    pub scope: Option<String>,
    /// `private_key_jwt`'s keys: the `jwks` document (as JSON text) or the `jwks_uri`;
    /// `Manager` checks them as for any app with keys.
    #[serde(default)]
    pub jwks: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidClientMetadata,
        format!("{field}: {message}"),
    )
}

fn invalid_field(field: &str, message: String) -> OAuthError {
    invalid(field, message)
}

fn invalid_redirect(message: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, message)
}

/// An optional string field of at most `max` bytes.
fn string(
    body: &serde_json::Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, OAuthError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(field, format!("must be at most {max} bytes"))),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// An optional list of strings, at most `max_items`, each at most `max_len` bytes.
fn strings(
    body: &serde_json::Map<String, Value>,
    field: &str,
    max_items: usize,
    max_len: usize,
    error: fn(&str, String) -> OAuthError,
) -> Result<Option<Vec<String>>, OAuthError> {
    let items = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid(field, "must be an array of strings")),
    };
    if items.len() > max_items {
        return Err(error(field, format!("at most {max_items} are accepted")));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if s.len() <= max_len => Ok(s.clone()),
            Value::String(_) => Err(error(
                field,
                format!("each must be at most {max_len} bytes"),
            )),
            _ => Err(invalid(field, "must be an array of strings")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn redirect_error(field: &str, message: String) -> OAuthError {
    invalid_redirect(format!("{field}: {message}"))
}

/// The one place `token_endpoint_auth_method` is read.
fn auth_method(value: Option<&str>, anonymous: bool) -> Result<AuthMethod, OAuthError> {
    match value {
        // RFC 7591 2 makes client_secret_basic the default; an anonymous registration can
        // only be a public app, so none is its default.
        None if anonymous => Ok(AuthMethod::None),
        None | Some("client_secret_basic") => Ok(AuthMethod::ClientSecretBasic),
        Some("none") => Ok(AuthMethod::None),
        Some("client_secret_post") => Ok(AuthMethod::ClientSecretPost),
        Some("private_key_jwt") => Ok(AuthMethod::PrivateKeyJwt),
        Some(other) => Err(invalid(
            "token_endpoint_auth_method",
            format!(
                "{other:?} is not supported: use client_secret_basic, client_secret_post, \
                 private_key_jwt or none"
            ),
        )),
    }
}

/// The largest `jwks` document, serialized (what any app's keys may take).
const MAX_JWKS_BYTES: usize = 16 * 1024;

/// `jwks` or `jwks_uri`: exactly one with `private_key_jwt`, neither otherwise (RFC 7591 2).
fn keys(
    body: &serde_json::Map<String, Value>,
    method: AuthMethod,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let jwks = match body.get("jwks") {
        None | Some(Value::Null) => None,
        Some(doc @ Value::Object(_)) => {
            let text = doc.to_string();
            if text.len() > MAX_JWKS_BYTES {
                return Err(invalid(
                    "jwks",
                    format!("must be at most {MAX_JWKS_BYTES} bytes"),
                ));
            }
            Some(text)
        }
        Some(_) => return Err(invalid("jwks", "must be a JWK Set (a JSON object)")),
    };
    let jwks_uri = string(body, "jwks_uri", MAX_URI_BYTES)?;
    match (method, &jwks, &jwks_uri) {
        (AuthMethod::PrivateKeyJwt, Some(_), Some(_)) => {
            Err(invalid("jwks", "send jwks or jwks_uri, not both"))
        }
        (AuthMethod::PrivateKeyJwt, None, None) => Err(invalid(
            "jwks",
            "private_key_jwt needs the app's public keys: jwks or jwks_uri",
        )),
        (AuthMethod::PrivateKeyJwt, _, _) | (_, None, None) => Ok((jwks, jwks_uri)),
        _ => Err(invalid(
            "jwks",
            "keys are for token_endpoint_auth_method private_key_jwt",
        )),
    }
}

impl ClientMetadata {
    /// Reads and checks a registration request's JSON body. `anonymous`: sent without an
    /// initial access token, when only a native app with the authorization code grant may
    /// register.
    pub fn parse(body: &Value, anonymous: bool) -> Result<Self, OAuthError> {
        let Value::Object(body) = body else {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "the body must be a JSON object of client metadata",
            ));
        };
        let method = string(body, "token_endpoint_auth_method", 100)?;
        let auth_method = auth_method(method.as_deref(), anonymous)?;
        let grant_types = strings(body, "grant_types", 10, 100, invalid_field)?
            .unwrap_or_else(|| vec!["authorization_code".into()]);
        let mut code = false;
        let mut client_credentials = false;
        for grant in &grant_types {
            match grant.as_str() {
                "authorization_code" => code = true,
                "refresh_token" => {}
                "client_credentials" => client_credentials = true,
                other => {
                    return Err(invalid(
                        "grant_types",
                        format!(
                            "{other:?} cannot be registered: use authorization_code (with refresh_token) or client_credentials"
                        ),
                    ));
                }
            }
        }
        if code == client_credentials {
            return Err(invalid(
                "grant_types",
                "name either authorization_code (with refresh_token) or client_credentials",
            ));
        }
        if client_credentials && auth_method == AuthMethod::None {
            return Err(invalid(
                "token_endpoint_auth_method",
                "client_credentials needs a secret: use client_secret_basic or client_secret_post",
            ));
        }
        if anonymous && (auth_method != AuthMethod::None || client_credentials) {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "token_endpoint_auth_method: without an initial access token only native apps \
                 (token_endpoint_auth_method none, authorization_code with PKCE) may register",
            ));
        }
        let response_types = strings(body, "response_types", 5, 100, invalid_field)?;
        match (&response_types, code) {
            (None, _) => {}
            (Some(types), true) if types.iter().all(|t| t == "code") => {}
            (Some(types), false) if types.is_empty() => {}
            _ => {
                return Err(invalid(
                    "response_types",
                    "only code is supported, with authorization_code; none with client_credentials",
                ));
            }
        }
        let client_name = string(body, "client_name", MAX_NAME_CHARS * 4)?;
        if let Some(name) = &client_name {
            if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(
                    "client_name",
                    format!("must be 1 to {MAX_NAME_CHARS} characters"),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(invalid(
                    "client_name",
                    "must not contain control characters",
                ));
            }
        }
        let app_type = Self::app_type_of(auth_method, client_credentials);
        let redirect_uris = strings(
            body,
            "redirect_uris",
            MAX_REDIRECT_URIS,
            MAX_URI_BYTES,
            redirect_error,
        )?
        .unwrap_or_default();
        let post_logout_redirect_uris = strings(
            body,
            "post_logout_redirect_uris",
            MAX_REDIRECT_URIS,
            MAX_URI_BYTES,
            redirect_error,
        )?
        .unwrap_or_default();
        if code && redirect_uris.is_empty() {
            return Err(invalid_redirect(
                "redirect_uris: the authorization code grant needs at least one redirect URI",
            ));
        }
        if client_credentials && !(redirect_uris.is_empty() && post_logout_redirect_uris.is_empty())
        {
            return Err(invalid_redirect(
                "redirect_uris: apps using client_credentials have no redirect URIs",
            ));
        }
        for (field, uris) in [
            ("redirect_uris", &redirect_uris),
            ("post_logout_redirect_uris", &post_logout_redirect_uris),
        ] {
            for uri in uris.iter() {
                validate_redirect_uri(app_type, uri)
                    .map_err(|e| invalid_redirect(format!("{field}: {e}")))?;
            }
        }
        let scope = string(body, "scope", MAX_SCOPE_BYTES)?;
        if let Some(scope) = &scope {
            let parsed = ScopeSet::parse(scope)
                .map_err(|bad| invalid("scope", format!("{bad:?} is not a valid scope")))?;
            if parsed.len() > MAX_SCOPES {
                return Err(invalid("scope", format!("at most {MAX_SCOPES} scopes")));
            }
        }
        let (jwks, jwks_uri) = keys(body, auth_method)?;
        Ok(Self {
            client_name: client_name.map(|n| n.trim().to_string()),
            redirect_uris,
            post_logout_redirect_uris,
            auth_method,
            client_credentials,
            scope,
            jwks,
            jwks_uri,
        })
    }

    fn keys(&self) -> Option<AppKeys> {
        match (&self.jwks, &self.jwks_uri) {
            (Some(doc), _) => Some(AppKeys::Jwks(doc.clone())),
            (None, Some(uri)) => Some(AppKeys::Uri(uri.clone())),
            (None, None) => None,
        }
    }

    fn app_type_of(auth_method: AuthMethod, client_credentials: bool) -> AppType {
        match (auth_method, client_credentials) {
            (AuthMethod::None, _) => AppType::Native,
            (_, true) => AppType::Server,
            (_, false) => AppType::Web,
        }
    }

    /// The type of app this registers.
    pub fn app_type(&self) -> AppType {
        Self::app_type_of(self.auth_method, self.client_credentials)
    }

    /// The scopes asked for (none when `scope` was not sent).
    pub fn scopes(&self) -> ScopeSet {
        self.scope
            .as_deref()
            .and_then(|s| ScopeSet::parse(s).ok())
            .unwrap_or_default()
    }

    /// The app to create, with these scopes.
    pub fn new_app(&self, scopes: &ScopeSet) -> NewApp {
        NewApp::new(
            self.app_type(),
            self.client_name.as_deref().unwrap_or(DEFAULT_NAME),
        )
        .redirect_uris(self.redirect_uris.clone())
        .post_logout_redirect_uris(self.post_logout_redirect_uris.clone())
        .scopes(scopes.iter().map(str::to_string))
        .keys(self.keys())
    }

    /// This registration's metadata as an app now has it (RFC 7592 reads the current values).
    pub fn of_app(app: &App, registered: Option<&ClientMetadata>) -> Self {
        let auth_method = match (app.app_type, &app.keys, registered.map(|m| m.auth_method)) {
            (AppType::Native, _, _) => AuthMethod::None,
            (_, Some(_), _) => AuthMethod::PrivateKeyJwt,
            (_, None, Some(AuthMethod::ClientSecretPost)) => AuthMethod::ClientSecretPost,
            _ => AuthMethod::ClientSecretBasic,
        };
        let (jwks, jwks_uri) = match &app.keys {
            Some(AppKeys::Jwks(doc)) => (Some(doc.clone()), None),
            Some(AppKeys::Uri(uri)) => (None, Some(uri.clone())),
            None => (None, None),
        };
        Self {
            client_name: Some(app.name.clone()),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            auth_method,
            client_credentials: app.app_type == AppType::Server,
            scope: (!app.scopes.is_empty()).then(|| app.scopes.to_string()),
            jwks,
            jwks_uri,
        }
    }
}

/// The client information response (RFC 7591 3.2.1, RFC 7592 3): the registered metadata,
/// the app ID, and (once, at registration) the secrets.
#[derive(Debug, Clone, Serialize)]
pub struct ClientInformation {
    pub client_id: String,
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire (present whenever a secret is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    pub token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The organization the app belongs to; absent while an anonymous registration waits
    /// for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantor_org_id: Option<String>,
}

impl ClientInformation {
    pub fn new(
        client_id: &str,
        issued_at: i64,
        registration_client_uri: String,
        metadata: &ClientMetadata,
        org_id: Option<&str>,
    ) -> Self {
        let (grant_types, response_types) = if metadata.client_credentials {
            (vec!["client_credentials"], vec![])
        } else {
            (vec!["authorization_code", "refresh_token"], vec!["code"])
        };
        Self {
            client_id: client_id.to_string(),
            client_id_issued_at: issued_at,
            client_secret: None,
            client_secret_expires_at: None,
            registration_access_token: None,
            registration_client_uri,
            client_name: metadata
                .client_name
                .clone()
                .unwrap_or_else(|| DEFAULT_NAME.to_string()),
            redirect_uris: metadata.redirect_uris.clone(),
            post_logout_redirect_uris: metadata.post_logout_redirect_uris.clone(),
            grant_types,
            response_types,
            token_endpoint_auth_method: metadata.auth_method.as_str(),
            scope: metadata.scope.clone(),
            jwks: metadata
                .jwks
                .as_deref()
                .and_then(|doc| serde_json::from_str(doc).ok()),
            jwks_uri: metadata.jwks_uri.clone(),
            grantor_org_id: org_id.map(str::to_string),
        }
    }
}

/// A management error met while registering, in RFC 7591's terms: a field `Manager`
/// refused becomes `invalid_redirect_uri` or `invalid_client_metadata` naming the field as
/// RFC 7591 does; a policy refusal of the initial access token, `insufficient_scope`.
pub fn registration_error(e: ServiceError) -> OAuthError {
    let rfc_field = |field: &str| match field {
        "name" => "client_name".to_string(),
        "scopes" => "scope".to_string(),
        other => other.to_string(),
    };
    match e {
        ServiceError::InvalidFields(fields) => {
            let redirect = fields.iter().any(|f| f.field.contains("redirect_uris"));
            let description = fields
                .iter()
                .map(|f| format!("{}: {}", rfc_field(&f.field), f.message))
                .collect::<Vec<_>>()
                .join("; ");
            let code = if redirect {
                ErrorCode::InvalidRedirectUri
            } else {
                ErrorCode::InvalidClientMetadata
            };
            OAuthError::new(code, description)
        }
        ServiceError::Invalid(msg) | ServiceError::Conflict(msg) => {
            OAuthError::new(ErrorCode::InvalidClientMetadata, msg)
        }
        ServiceError::Forbidden(msg) => OAuthError::new(ErrorCode::InsufficientScope, msg),
        ServiceError::NotFound(_) => OAuthError::new(
            ErrorCode::InvalidToken,
            "the access token's organization or subject no longer exists",
        ),
        ServiceError::Unavailable(detail) => crate::StoreError::Backend(detail).into(),
        ServiceError::Internal(detail) => OAuthError::server_error(detail),
        ServiceError::Rehearsed => OAuthError::server_error("a rehearsal reached registration"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(e: Result<ClientMetadata, OAuthError>) -> (&'static str, String) {
        let e = e.unwrap_err();
        (e.code.as_str(), e.description)
    }

    #[test]
    fn an_mcp_clients_registration_is_a_native_app() {
        let m = ClientMetadata::parse(
            &json!({
                "client_name": "Inspector",
                "redirect_uris": ["http://127.0.0.1:6274/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": "trades:read",
                "logo_uri": "https://example.com/unknown-fields-are-ignored.png"
            }),
            true,
        )
        .unwrap();
        assert_eq!(m.app_type(), AppType::Native);
        assert_eq!(m.scopes().to_string(), "trades:read");
    }

    #[test]
    fn anonymous_registrations_are_native_only() {
        let web = json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"});
        assert_eq!(
            code(ClientMetadata::parse(&web, true)).0,
            "invalid_client_metadata"
        );
        assert_eq!(
            ClientMetadata::parse(&web, false).unwrap().app_type(),
            AppType::Web
        );
        let server = json!({"grant_types": ["client_credentials"]});
        assert_eq!(
            code(ClientMetadata::parse(&server, true)).0,
            "invalid_client_metadata"
        );
        assert_eq!(
            ClientMetadata::parse(&server, false).unwrap().app_type(),
            AppType::Server
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        let (c, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb#x"]}),
            true,
        ));
        assert_eq!(c, "invalid_redirect_uri");
        assert!(d.starts_with("redirect_uris"), "{d}");
        let (c, d) = code(ClientMetadata::parse(&json!({"redirect_uris": []}), true));
        assert_eq!(
            (c, d.starts_with("redirect_uris")),
            ("invalid_redirect_uri", true)
        );
        let many: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
        let (c, _) = code(ClientMetadata::parse(&json!({"redirect_uris": many}), true));
        assert_eq!(c, "invalid_redirect_uri");
        let (c, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(101)}),
            true,
        ));
        assert_eq!(
            (c, d.starts_with("client_name")),
            ("invalid_client_metadata", true)
        );
        let (c, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            false,
        ));
        assert_eq!(
            (c, d.starts_with("jwks"), d.contains("jwks_uri")),
            ("invalid_client_metadata", true, true),
            "private_key_jwt without keys"
        );
        let (c, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks"}),
            false,
        ));
        assert_eq!(
            (c, d.starts_with("jwks")),
            ("invalid_client_metadata", true),
            "keys with a secret"
        );
        let with_keys = ClientMetadata::parse(
            &json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}}),
            false,
        )
        .unwrap();
        assert_eq!(with_keys.app_type(), AppType::Server);
        assert!(matches!(with_keys.keys(), Some(AppKeys::Jwks(_))));
        let (c, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            false,
        ));
        assert_eq!(
            (c, d.starts_with("grant_types")),
            ("invalid_client_metadata", true)
        );
        let (_, d) = code(ClientMetadata::parse(
            &json!({"redirect_uris": ["https://a.example/cb"], "scope": 5}),
            true,
        ));
        assert!(d.starts_with("scope"), "{d}");
    }
}
