//! `GET|POST /oauth2/userinfo` (OIDC Core 5.3), with a bearer access token or a DPoP-bound
//! one and its proof (RFC 9449 7).

use super::{Authorization, DpopHeader, with_dpop_nonce};
use crate::AppState;
use crate::error::{OAuthReply, no_store};
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

pub async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    authorization: Authorization,
    dpop: DpopHeader,
) -> Response {
    let result = async {
        let proof = dpop.proof().map_err(|e| e.with_dpop_challenge())?;
        let presented = authorization.presented(proof, method.as_str());
        state.provider.userinfo(presented).await
    }
    .await;
    let response = match result {
        Ok(claims) => no_store(claims),
        Err(e) => OAuthReply(e).into_response(),
    };
    with_dpop_nonce(&state, response)
}
