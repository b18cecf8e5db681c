//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009).

use super::Authorization;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use crate::input::OAuthForm;
use axum::extract::State;
use axum::response::Response;
use grantor_core::client_auth;

pub async fn introspect(
    State(state): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Response, OAuthReply> {
    let creds = client_auth::extract(authorization.as_str(), &params)?;
    let token = params.require("token")?;
    let answer = state.provider.introspect(&creds, token).await?;
    Ok(no_store(answer))
}

pub async fn revoke(
    State(state): State<AppState>,
    authorization: Authorization,
    OAuthForm(params): OAuthForm,
) -> Result<Response, OAuthReply> {
    let creds = client_auth::extract(authorization.as_str(), &params)?;
    let token = params.require("token")?;
    state.provider.revoke(&creds, token).await?;
    // RFC 7009 2.2: 200 with an empty body; strict clients reject 204.
    Ok(no_store(serde_json::json!({})))
}
