//! `GET|POST /oauth2/userinfo` (OIDC Core 5.3), with a bearer access token.

use super::Authorization;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use axum::extract::State;
use axum::response::Response;

pub async fn userinfo(
    State(state): State<AppState>,
    authorization: Authorization,
) -> Result<Response, OAuthReply> {
    let claims = state.provider.userinfo(authorization.bearer()).await?;
    Ok(no_store(claims))
}
