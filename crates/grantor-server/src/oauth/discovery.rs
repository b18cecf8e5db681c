//! Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use grantor_core::grant::token_exchange::API_TOKEN_TYPE;
use grantor_core::provider::SUPPORTED_GRANTS;
use grantor_core::scope::{MANAGEMENT_SCOPES, OIDC_SCOPES};
use serde_json::{Value, json};

/// Both metadata documents, built once from the issuer.
pub struct Documents {
    oauth: Value,
    openid: Value,
}

impl Documents {
    pub fn new(issuer: &str, management_api: &str, require_par: bool) -> Self {
        let url = |path: &str| format!("{issuer}{path}");
        let scopes: Vec<&str> = OIDC_SCOPES
            .iter()
            .chain(MANAGEMENT_SCOPES.iter())
            .copied()
            .collect();
        let grants: Vec<&str> = SUPPORTED_GRANTS.iter().map(|g| g.as_str()).collect();
        let legacy: Vec<&str> = SUPPORTED_GRANTS
            .iter()
            .filter(|g| g.is_legacy())
            .map(|g| g.as_str())
            .collect();
        let oauth = json!({
            "issuer": issuer,
            "authorization_endpoint": url("/oauth2/authorize"),
            "token_endpoint": url("/oauth2/token"),
            "device_authorization_endpoint": url("/oauth2/device_authorization"),
            "pushed_authorization_request_endpoint": url("/oauth2/par"),
            "registration_endpoint": url("/oauth2/register"),
            "require_pushed_authorization_requests": require_par,
            "jwks_uri": url("/oauth2/jwks"),
            "introspection_endpoint": url("/oauth2/introspect"),
            "revocation_endpoint": url("/oauth2/revoke"),
            "scopes_supported": scopes,
            "response_types_supported": ["code", "token"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": grants,
            // Off unless enabled per app (RFC 9700 2.4 and 2.1.2 advise against them).
            "grantor_legacy_grant_types": legacy,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            // private_key_jwt assertions (RFC 7523): the algorithms of apps' keys.
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "introspection_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "access_token_signing_alg_values_supported": ["ES256"],
            // RFC 9449 5.1: DPoP proofs are accepted at the token and userinfo endpoints.
            "dpop_signing_alg_values_supported": grantor_core::jose::Alg::dpop_names(),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            // Grantor's management API: a resource server whose scopes are grantor:*.
            "grantor_management_api": management_api,
            "grantor_token_exchange_subject_token_types_supported": [API_TOKEN_TYPE],
        });
        let mut openid = oauth.clone();
        if let Value::Object(map) = &mut openid {
            map.insert("userinfo_endpoint".into(), json!(url("/oauth2/userinfo")));
            map.insert("end_session_endpoint".into(), json!(url("/logout")));
            map.insert("subject_types_supported".into(), json!(["public"]));
            map.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256"]),
            );
            map.insert(
                "claims_supported".into(),
                json!([
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "at_hash",
                    "azp",
                    "name",
                    "preferred_username",
                    "email",
                    "email_verified",
                    "org_id",
                    "acr",
                    "amr"
                ]),
            );
            map.insert(
                "acr_values_supported".into(),
                json!(grantor_core::model::ACR_VALUES),
            );
            map.insert(
                "amr_values_supported".into(),
                json!(["pwd", "otp", "hwk", "swk", "mfa"]),
            );
            map.insert("request_parameter_supported".into(), json!(false));
            map.insert("request_uri_parameter_supported".into(), json!(false));
            map.insert("claims_parameter_supported".into(), json!(false));
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
