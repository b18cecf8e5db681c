//! `GET|POST /oauth2/userinfo` (OIDC Core 5.3), with a bearer access token.

use super::authorization;
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthReply> {
    let bearer = authorization(&headers).and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let claims = state.provider.userinfo(bearer).await?;
    Ok(no_store(claims))
}
