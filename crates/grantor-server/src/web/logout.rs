//! Signing out, including OpenID Connect RP-initiated logout: an app may send the user here
//! with `post_logout_redirect_uri` (registered for that app) and `state`.

use super::pages::LogoutPage;
use super::session::{self, Cookie};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::error::PageError;
use crate::input::{PageForm, PageQuery};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::jose::{self, Alg};
use grantor_core::params::Params;
use grantor_core::store::Registry;

/// The app the request names: by `client_id`, or by the `aud` of an ID token we issued
/// (expired is fine: logout often comes long after sign-in). When both are given they must
/// agree.
fn client_of(state: &AppState, params: &Params) -> Option<String> {
    let hinted = match params.get("id_token_hint") {
        Some(hint) => {
            let keys = state.provider.keys.current();
            let (_, payload) =
                jose::verify(hint, &[Alg::RS256, Alg::ES256], |kid| keys.verifier(kid)).ok()?;
            let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
            if claims["iss"] != state.provider.settings.issuer.as_str() {
                return None;
            }
            Some(claims["aud"].as_str()?.to_string())
        }
        None => None,
    };
    match (params.get("client_id"), hinted) {
        (Some(named), Some(hinted)) => (named == hinted).then_some(hinted),
        (Some(named), None) => Some(named.to_string()),
        (None, hinted) => hinted,
    }
}

/// The one check both the page and its form make: `post_logout_redirect_uri`, if given, must
/// be registered for the app the request names. `Ok(None)`: none was asked for.
async fn registered_redirect(state: &AppState, params: &Params) -> Result<Option<String>, ()> {
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client_id = client_of(state, params).ok_or(())?;
    let registered = state
        .store
        .client(&client_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|c| c.app.post_logout_redirect_uris.iter().any(|r| r == uri));
    if registered {
        Ok(Some(uri.to_string()))
    } else {
        Err(())
    }
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let Ok(redirect) = registered_redirect(&state, &query).await else {
        return PageError::BadRequest {
            title: "Cannot sign out",
            message: "The address to return to after signing out is not registered for this app.",
        }
        .into_response();
    };
    let current = session::current(&state, &headers).await;
    let page = LogoutPage {
        signed_in: current.is_some(),
        csrf: current
            .map(|c| csrf::token(&state.csrf_key, &c.id_hash))
            .unwrap_or_default(),
        client_id: redirect
            .as_ref()
            .and_then(|_| client_of(&state, &query))
            .unwrap_or_default(),
        post_logout_redirect_uri: redirect.unwrap_or_default(),
        state: query.get("state").unwrap_or_default().to_string(),
    };
    render(StatusCode::OK, &page)
}

/// The post-logout redirect URI with `state` appended when the app sent one.
fn with_state(uri: &str, state: Option<&str>) -> String {
    match (url::Url::parse(uri), state) {
        (Ok(mut url), Some(state)) => {
            url.query_pairs_mut().append_pair("state", state);
            url.to_string()
        }
        _ => uri.to_string(),
    }
}

/// Signs out (when signed in, only with the page's CSRF token), then returns to the app if
/// the same check as the page's passes, or shows the signed-out page.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    if let Some(current) = session::current(&state, &headers).await {
        if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
            return PageError::FormExpired("Reload the page and try again.").into_response();
        }
        session::end(&state, &current).await;
    }
    let target = match registered_redirect(&state, &form).await {
        Ok(Some(uri)) => with_state(&uri, form.get("state")),
        _ => "/logout".to_string(),
    };
    let mut response = see_other(&target);
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&state, Cookie::Session, "", 0),
    );
    response
}
