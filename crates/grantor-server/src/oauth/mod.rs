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
use axum::response::Response;
use axum::routing::{get, post};
use grantor_core::dpop;
use grantor_core::dpop::{Presented, ProofSent};
use grantor_core::{ErrorCode, OAuthError};
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
        self.token_of("bearer")
    }

    fn token_of(&self, wanted: &str) -> Option<&str> {
        let (scheme, token) = self.as_str()?.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case(wanted)
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The access token as presented: as Bearer, or under the `DPoP` scheme (RFC 9449 7.1)
    /// with the request's proof, if any, and method.
    pub fn presented<'a>(
        &'a self,
        proof: Option<&'a str>,
        method: &'a str,
    ) -> Option<Presented<'a>> {
        if let Some(token) = self.bearer() {
            return Some(Presented { token, dpop: None });
        }
        let token = self.token_of(grantor_core::dpop::SCHEME)?;
        Some(Presented {
            token,
            dpop: Some(ProofSent { proof, htm: method }),
        })
    }
}

/// The `DPoP` header (RFC 9449 4.1): one at most, readable, and no longer than a proof may
/// be; anything else is `invalid_dpop_proof` before the request is looked at further.
pub struct DpopHeader(Result<Option<String>, OAuthError>);

impl<S: Send + Sync> FromRequestParts<S> for DpopHeader {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let refused = |why: &str| Err(OAuthError::new(ErrorCode::InvalidDpopProof, why));
        let mut values = parts.headers.get_all("dpop").iter();
        let proof = match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => refused("a request carries one DPoP header at most"),
            (Some(value), None) if value.len() > dpop::MAX_PROOF_LEN => {
                refused("the DPoP proof is too large")
            }
            (Some(value), None) => match value.to_str() {
                Ok(proof) => Ok(Some(proof.trim().to_string())),
                Err(_) => refused("the DPoP proof is not a well-formed JWT"),
            },
        };
        Ok(Self(proof))
    }
}

impl DpopHeader {
    pub fn proof(&self) -> Result<Option<&str>, OAuthError> {
        match &self.0 {
            Ok(proof) => Ok(proof.as_deref()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Adds the current server nonce, when the installation requires nonces (RFC 9449 8).
pub fn with_dpop_nonce(state: &AppState, mut response: Response) -> Response {
    if let Some(nonce) = state.provider.dpop_nonce()
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}
