//! The OAuth 2.0 / OpenID Connect endpoints (design.md section 2).

mod authorize;
pub mod discovery;
mod introspection;
mod token;
mod userinfo;

use crate::AppState;
use crate::error::OAuthReply;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::routing::{get, post};
use grantor_core::OAuthError;
use grantor_core::params::Params;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::oauth_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_metadata),
        )
        .route("/oauth2/jwks", get(discovery::jwks))
        .route(
            "/oauth2/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route("/oauth2/token", post(token::token))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oauth2/introspect", post(introspection::introspect))
        .route("/oauth2/revoke", post(introspection::revoke))
}

/// Largest form body accepted by protocol endpoints.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// An `application/x-www-form-urlencoded` body as protocol [`Params`]; anything else is an
/// `invalid_request` in the protocol's own format rather than a framework error page.
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthReply;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        if body.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request("the request body is too large").into());
        }
        let pairs = url::form_urlencoded::parse(&body).into_owned().collect();
        Ok(Self(Params::new(pairs)?))
    }
}

/// The `Authorization` header as text, if present and readable.
pub fn authorization(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}
