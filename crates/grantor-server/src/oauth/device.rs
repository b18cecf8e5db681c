//! `POST /oauth2/device_authorization` (RFC 8628 3.1): an app that opted into the device
//! grant gets a device code to poll the token endpoint with and a user code to show.

use super::Authorization;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use crate::input::OAuthForm;
use axum::extract::State;
use axum::response::Response;
use grantor_core::client_auth;
use grantor_core::grant::device_code::AuthorizationRequest;

pub async fn device_authorization(
    State(state): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Response, OAuthReply> {
    let creds = client_auth::extract(authorization.as_str(), &params)?;
    let request = AuthorizationRequest::parse(&params)?;
    let answer = state.provider.device_authorization(&creds, request).await?;
    Ok(no_store(answer))
}
