//! The approval page: shown by the authorization endpoint, answered with `POST /consent`.

use super::pages::ConsentPage;
use super::session::{self, Current};
use super::{PageForm, csrf, render, see_other};
use crate::AppState;
use crate::error::AuthorizeReply;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantor_core::authorize::{ConsentPrompt, Decision};
use grantor_core::params::Params;
use grantor_core::store::Directory;

/// Renders the approval page for `prompt`; `request` is the authorization request's
/// parameters, form-encoded, to be resubmitted with the decision.
pub async fn show(
    state: &AppState,
    current: &Current,
    prompt: ConsentPrompt,
    request: String,
) -> Response {
    let user_email = match state.store.user(&current.user.user_id).await {
        Ok(Some(u)) => u.email,
        _ => String::new(),
    };
    let page = ConsentPage {
        csrf: csrf::token(&state.csrf_key, &current.id_hash),
        request,
        app_name: prompt.app_name,
        app_org_name: prompt.app_org_name,
        user_email,
        orgs: prompt.orgs,
        scopes: prompt.scopes,
    };
    render(StatusCode::OK, &page)
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, form: PageForm) -> Response {
    let request = form.get("request").unwrap_or_default();
    let Some(current) = session::current(&state, &headers).await else {
        return see_other(&format!(
            "/login?return_to={}",
            url::form_urlencoded::byte_serialize(format!("/oauth2/authorize?{request}").as_bytes())
                .collect::<String>()
        ));
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return super::pages::error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This approval form is no longer valid. Go back to the app and try again.",
        );
    }
    let params = match Params::new(
        url::form_urlencoded::parse(request.as_bytes())
            .into_owned()
            .collect(),
    ) {
        Ok(p) => p,
        Err(e) => return AuthorizeReply::page(e).into_response(),
    };
    let result = async {
        let req = state.provider.parse_authorization(&params).await?;
        let decision = Decision {
            allow: form.get("decision") == Some("allow"),
            org: form.get("org").map(str::to_string),
            scopes: form.all("scope").collect(),
        };
        state.provider.decide(&req, &current.user, decision).await
    }
    .await;
    match result {
        Ok(location) => see_other(&location),
        Err(e) => AuthorizeReply(e).into_response(),
    }
}
