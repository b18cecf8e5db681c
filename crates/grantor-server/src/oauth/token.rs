//! `POST /oauth2/token`.

use super::{Authorization, DpopHeader, with_dpop_nonce};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{OAuthReply, no_store};
use crate::input::OAuthForm;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use grantor_core::client_auth;
use grantor_core::grant::TokenRequest;

/// The grant label for metrics: only names we know, so clients cannot invent label values.
fn grant_label(grant_type: Option<&str>) -> &'static str {
    match grant_type {
        Some("authorization_code") => "authorization_code",
        Some("client_credentials") => "client_credentials",
        Some("refresh_token") => "refresh_token",
        Some("password") => "password",
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => "token_exchange",
        Some("urn:ietf:params:oauth:grant-type:device_code") => "device_code",
        _ => "other",
    }
}

pub async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authorization: Authorization,
    dpop: DpopHeader,
    OAuthForm(params): OAuthForm,
) -> Response {
    let result = async {
        let proof = dpop.proof()?;
        let request = TokenRequest::parse(&params)?;
        // An API-token exchange authenticates no app (design.md section 2).
        let creds = match request {
            TokenRequest::TokenExchange(_) => None,
            TokenRequest::App(_) => Some(client_auth::extract(authorization.as_str(), &params)?),
        };
        state
            .provider
            .token(creds.as_ref(), request, address, proof)
            .await
    }
    .await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code.as_str(),
    };
    state
        .metrics
        .record_token(grant_label(params.get("grant_type")), outcome);
    let response = match result {
        Ok(response) => no_store(response),
        Err(e) => OAuthReply(e).into_response(),
    };
    with_dpop_nonce(&state, response)
}
