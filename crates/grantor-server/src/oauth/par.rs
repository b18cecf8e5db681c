//! `POST /oauth2/par` (RFC 9126 2): an app pushes its authorization request, authenticated as
//! at the token endpoint, and gets a `request_uri` to send the browser with. Errors are JSON,
//! never redirects: the app is the one reading the answer.

use super::Authorization;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use crate::input::OAuthForm;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::client_auth;

pub async fn push(
    State(state): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Response, OAuthReply> {
    let creds = client_auth::extract(authorization.as_str(), &params)?;
    let pushed = state.provider.push_authorization(&creds, &params).await?;
    let mut response = no_store(pushed);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
