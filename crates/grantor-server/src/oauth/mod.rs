//! The OAuth 2.0 / OpenID Connect endpoints (design.md section 2).

pub(crate) mod authorize;
mod device;
pub mod discovery;
mod introspection;
mod par;
mod register;
mod token;
mod userinfo;

use crate::AppState;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use std::convert::Infallible;

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
        .route("/oauth2/par", post(par::push))
        .route("/oauth2/register", post(register::register))
        .route(
            "/oauth2/register/{client_id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
        .route(
            "/oauth2/device_authorization",
            post(device::device_authorization),
        )
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oauth2/introspect", post(introspection::introspect))
        .route("/oauth2/revoke", post(introspection::revoke))
}

/// The `Authorization` header alone. The token, introspection, revocation and userinfo
/// endpoints need no other header, and axum's `HeaderMap` extractor would copy all of them
/// on every request.
pub struct Authorization(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for Authorization {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(parts.headers.get(header::AUTHORIZATION).cloned()))
    }
}

impl Authorization {
    /// The header as text, if present and readable.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The bearer token of an `Authorization: Bearer ...` header (RFC 6750 2.1).
    pub fn bearer(&self) -> Option<&str> {
        let (scheme, token) = self.as_str()?.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }
}
