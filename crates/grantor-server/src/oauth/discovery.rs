//! Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use grantor_core::provider::SUPPORTED_GRANTS;
use grantor_core::scope::{MANAGEMENT_SCOPES, OIDC_SCOPES};
use serde_json::{Value, json};

/// Both metadata documents, built once from the issuer.
pub struct Documents {
    oauth: Value,
    openid: Value,
}

impl Documents {
    pub fn new(issuer: &str) -> Self {
        let url = |path: &str| format!("{issuer}{path}");
        let scopes: Vec<&str> = OIDC_SCOPES
            .iter()
            .chain(MANAGEMENT_SCOPES.iter())
            .copied()
            .collect();
        let grants: Vec<&str> = SUPPORTED_GRANTS.iter().map(|g| g.as_str()).collect();
        let oauth = json!({
            "issuer": issuer,
            "token_endpoint": url("/oauth2/token"),
            "jwks_uri": url("/oauth2/jwks"),
            "introspection_endpoint": url("/oauth2/introspect"),
            "revocation_endpoint": url("/oauth2/revoke"),
            "scopes_supported": scopes,
            "grant_types_supported": grants,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "access_token_signing_alg_values_supported": ["ES256"],
        });
        let mut openid = oauth.clone();
        if let Value::Object(map) = &mut openid {
            map.insert("subject_types_supported".into(), json!(["public"]));
            map.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256", "ES256"]),
            );
        }
        Self { oauth, openid }
    }
}

fn cacheable(body: &Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

pub async fn oauth_metadata(State(state): State<AppState>) -> Response {
    cacheable(&state.discovery.oauth)
}

pub async fn openid_metadata(State(state): State<AppState>) -> Response {
    cacheable(&state.discovery.openid)
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.provider.keys.current();
    let mut response = Json(&keys.jwks).into_response();
    // Short, so a rotation's new key is seen well within its overlap period.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
