//! The approval page: shown by the authorization endpoint, answered with `POST /consent`.

use super::pages::ConsentPage;
use super::session::{self, Current};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{AuthorizeReply, PageError};
use crate::input::PageForm;
use crate::oauth::authorize::{second_factor_then, sign_in_then};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantor_core::authorize::{ConsentPrompt, Decision, Step};
use grantor_core::params::{MAX_FORM_BYTES, Params};

/// Renders the approval page for `prompt`; `request` is the authorization request's
/// parameters, form-encoded, to be resubmitted with the decision.
pub async fn show(
    state: &AppState,
    current: &Current,
    prompt: ConsentPrompt,
    request: String,
) -> Response {
    let page = ConsentPage {
        csrf: csrf::token(&state.csrf_key, &current.id_hash),
        action: "/consent",
        hidden: vec![("request", request)],
        user_code: None,
        app_name: prompt.app_name,
        app_org_name: prompt.app_org_name,
        user_email: prompt.user_email,
        orgs: prompt.orgs,
        scopes: prompt.scopes,
    };
    render(StatusCode::OK, &page)
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let request = form.get("request").unwrap_or_default();
    let params = match Params::parse(request.as_bytes(), MAX_FORM_BYTES) {
        Ok(p) => p,
        Err(e) => return crate::error::refused_page(e),
    };
    let Some(current) = session::current(&state, &headers).await else {
        return sign_in_then(&state, params.pairs());
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return PageError::FormExpired(
            "This approval form is no longer valid. Go back to the app and try again.",
        )
        .into_response();
    }
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
        Ok(Step::Respond(location)) => see_other(&location),
        // The organization picked requires a second factor the sign-in lacks.
        Ok(step @ (Step::SecondFactor | Step::Enrol { .. })) => {
            let user_id = &current.user.user_id;
            second_factor_then(&state, &headers, address, user_id, params.pairs(), step).await
        }
        // The sign-in grew older than max_age allows while the page was open.
        Ok(_) => sign_in_then(&state, params.pairs()),
        Err(e) => AuthorizeReply(e).into_response(),
    }
}
