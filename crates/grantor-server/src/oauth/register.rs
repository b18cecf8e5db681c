//! `POST /oauth2/register` (RFC 7591) and `GET|PUT|DELETE /oauth2/register/{client_id}`
//! (RFC 7592). Registration with an initial access token (a management API token carrying
//! `grantor:apps`) registers in the token's organization; without one, a native app is kept
//! pending until an organization open to registration takes it (see
//! `grantor_core::manage` registrations). Errors are RFC 7591's JSON.

use super::Authorization;
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{OAuthReply, no_store};
use crate::input::RegistrationJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grantor_core::model::Caller;
use grantor_core::{ErrorCode, OAuthError, ServiceError};

fn invalid_token(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// The caller an initial access token stands for: a valid token meant for the management
/// API, as the API itself reads it.
async fn initial_access(
    state: &AppState,
    token: &str,
    address: std::net::IpAddr,
) -> Result<Caller, OAuthError> {
    let claims = state
        .provider
        .active_access_token(token)
        .await?
        .ok_or_else(|| invalid_token("the initial access token is invalid, expired or revoked"))?;
    if !claims
        .aud
        .iter()
        .any(|a| state.provider.settings.is_management_api(a))
    {
        return Err(invalid_token(
            "the initial access token must be meant for the management API (grantor:apps)",
        ));
    }
    let actor = state
        .manager
        .token_actor(&claims)
        .await
        .map_err(|e| match e {
            ServiceError::Forbidden(why) => OAuthError::new(ErrorCode::InsufficientScope, why),
            ServiceError::NotFound(_) => {
                invalid_token("the initial access token's app or user no longer exists")
            }
            other => grantor_core::registration::registration_error(other),
        })?;
    Ok(Caller::new(actor, Some(address)))
}

pub async fn register(
    State(state): State<AppState>,
    authorization: Authorization,
    ClientAddress(address): ClientAddress,
    RegistrationJson(body): RegistrationJson,
) -> Result<Response, OAuthReply> {
    let registered = match (authorization.bearer(), authorization.as_str()) {
        (Some(token), _) => {
            let caller = initial_access(&state, token, address).await?;
            state.manager.register_with_token(&caller, &body).await?
        }
        (None, Some(_)) => {
            return Err(
                invalid_token("an initial access token is sent as Authorization: Bearer").into(),
            );
        }
        (None, None) => {
            state
                .manager
                .register_anonymously(Some(address), &body)
                .await?
        }
    };
    let mut response = no_store(registered.information);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

fn registration_token(authorization: &Authorization) -> Result<&str, OAuthError> {
    authorization.bearer().ok_or_else(|| {
        invalid_token("the registration access token is required (Authorization: Bearer)")
    })
}

pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    authorization: Authorization,
) -> Result<Response, OAuthReply> {
    let token = registration_token(&authorization)?;
    let information = state.manager.read_registration(&client_id, token).await?;
    Ok(no_store(information))
}

pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    authorization: Authorization,
    ClientAddress(address): ClientAddress,
    RegistrationJson(body): RegistrationJson,
) -> Result<Response, OAuthReply> {
    let token = registration_token(&authorization)?;
    let information = state
        .manager
        .update_registration(&client_id, token, &body, Some(address))
        .await?;
    Ok(no_store(information))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    authorization: Authorization,
    ClientAddress(address): ClientAddress,
) -> Result<Response, OAuthReply> {
    let token = registration_token(&authorization)?;
    state
        .manager
        .delete_registration(&client_id, token, Some(address))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
