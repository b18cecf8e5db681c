//! `GET|POST /oauth2/userinfo` (OIDC Core 5.3), with a bearer access token.

use super::bearer;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthReply> {
    let claims = state.provider.userinfo(bearer(&headers)).await?;
    Ok(no_store(claims))
}
