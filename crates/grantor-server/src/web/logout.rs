//! Signing out, including OpenID Connect RP-initiated logout: an app may send the user here
//! with `post_logout_redirect_uri` (registered for that app) and `state`.

use super::pages::{LogoutPage, error_page};
use super::session::{self, SESSION_COOKIE};
use super::{PageForm, csrf, render, see_other};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use grantor_core::jose::{self, Alg};
use grantor_core::store::{Registry, SessionStore};
use std::collections::HashMap;

/// The app named by `client_id` or by the `aud` of an ID token we issued (expired is fine:
/// logout often comes long after sign-in).
fn client_of(state: &AppState, query: &HashMap<String, String>) -> Option<String> {
    if let Some(id) = query.get("client_id") {
        return Some(id.clone());
    }
    let hint = query.get("id_token_hint")?;
    let keys = state.provider.keys.current();
    let (_, payload) =
        jose::verify(hint, &[Alg::RS256, Alg::ES256], |kid| keys.verifier(kid)).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    (claims["iss"] == state.provider.settings.issuer.as_str())
        .then(|| claims["aud"].as_str().map(str::to_string))?
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut redirect = String::new();
    if let Some(uri) = query.get("post_logout_redirect_uri") {
        let registered = match client_of(&state, &query) {
            Some(id) => state
                .store
                .client(&id)
                .await
                .ok()
                .flatten()
                .is_some_and(|c| c.app.post_logout_redirect_uris.contains(uri)),
            None => false,
        };
        if !registered {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Cannot sign out",
                "The address to return to after signing out is not registered for this app.",
            );
        }
        redirect = uri.clone();
    }
    let current = session::current(&state, &headers).await;
    let page = LogoutPage {
        signed_in: current.is_some(),
        csrf: current
            .map(|c| csrf::token(&state.csrf_key, &c.id_hash))
            .unwrap_or_default(),
        post_logout_redirect_uri: redirect,
        state: query.get("state").cloned().unwrap_or_default(),
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

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, form: PageForm) -> Response {
    if let Some(current) = session::current(&state, &headers).await {
        if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
            return error_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "Reload the page and try again.",
            );
        }
        let _ = state.store.delete_session(&current.id_hash).await;
    }
    // The URI was checked against the app's registration when the page was shown; the form
    // is CSRF-protected, so it is the one we rendered.
    let target = match form
        .get("post_logout_redirect_uri")
        .filter(|u| !u.is_empty())
    {
        Some(uri) => with_state(uri, form.get("state").filter(|s| !s.is_empty())),
        None => "/logout".to_string(),
    };
    let mut response = see_other(&target);
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    response
}
