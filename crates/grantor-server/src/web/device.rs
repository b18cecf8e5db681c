//! `/device`: where a person connects a device (RFC 8628 3.3). They sign in, type the code
//! the device shows (or arrive with it from `verification_uri_complete`), then approve or
//! deny on the code flow's approval page; the polling device learns the answer.

use super::pages::{ConsentPage, DeviceDonePage, DevicePage};
use super::session::{self, Current};
use super::{csrf, render};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::{PageForm, PageQuery};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::authorize::Decision;
use grantor_core::device::DeviceError;
use grantor_core::grant::device_code::UserCode;

/// Back here after signing in, with the code if it can be one (nothing else travels).
fn sign_in_then(typed: &str) -> Response {
    let return_to = match UserCode::parse(typed) {
        Some(code) => format!("/device?user_code={}", code.display()),
        None => "/device".to_string(),
    };
    PageError::SignIn { return_to }.into_response()
}

fn form_expired() -> Response {
    PageError::FormExpired("This form is no longer valid. Enter the code from your device again.")
        .into_response()
}

/// The form for the code, with `typed` in it and why it was refused, if it was.
fn entry_page(
    state: &AppState,
    current: &Current,
    status: StatusCode,
    typed: &str,
    error: Option<String>,
) -> Response {
    // Never echo back more than a code can be.
    let user_code = if typed.len() > 32 { "" } else { typed };
    let page = DevicePage {
        csrf: csrf::token(&state.csrf_key, &current.id_hash),
        user_code: user_code.to_string(),
        error,
    };
    render(status, &page)
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let typed = query.get("user_code").unwrap_or_default();
    let Some(current) = session::current(&state, &headers).await else {
        return sign_in_then(typed);
    };
    entry_page(&state, &current, StatusCode::OK, typed, None)
}

/// The code typed: the approval page for its device, or the form again saying why not.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let typed = form.get("user_code").unwrap_or_default();
    let Some(current) = session::current(&state, &headers).await else {
        return sign_in_then(typed);
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return form_expired();
    }
    match state
        .provider
        .device_prompt(&current.user, typed, address)
        .await
    {
        Ok(prompt) => {
            let consent = prompt.consent;
            let page = ConsentPage {
                csrf: csrf::token(&state.csrf_key, &current.id_hash),
                action: "/device/decide",
                hidden: vec![("user_code", prompt.user_code.clone())],
                user_code: Some(prompt.user_code),
                app_name: consent.app_name,
                app_org_name: consent.app_org_name,
                user_email: consent.user_email,
                orgs: consent.orgs,
                scopes: consent.scopes,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => refused(&state, &current, typed, e),
    }
}

/// The answer on the approval page.
pub async fn decide(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let typed = form.get("user_code").unwrap_or_default();
    let Some(current) = session::current(&state, &headers).await else {
        return sign_in_then(typed);
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return form_expired();
    }
    let decision = Decision {
        allow: form.get("decision") == Some("allow"),
        org: form.get("org").map(str::to_string),
        scopes: form.all("scope").collect(),
    };
    let approved = decision.allow;
    match state
        .provider
        .device_decide(&current.user, typed, decision, address)
        .await
    {
        Ok(app_name) => render(StatusCode::OK, &DeviceDonePage { approved, app_name }),
        Err(e) => refused(&state, &current, typed, e),
    }
}

/// The form again, saying why the code was refused: never more than that it is not valid
/// (mistyped, expired and answered codes alike).
fn refused(state: &AppState, current: &Current, typed: &str, e: DeviceError) -> Response {
    let (status, message, retry_after) = match e {
        DeviceError::UnknownCode => (
            StatusCode::BAD_REQUEST,
            "That code is not valid. Check the code your device shows: each works once, for 10 minutes.".to_string(),
            None,
        ),
        DeviceError::Throttled(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many wrong codes. Try again in {wait} seconds."),
            Some(wait.unsigned_abs()),
        ),
        DeviceError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Many codes are being checked right now. Try again in a moment.".to_string(),
            Some(1),
        ),
        DeviceError::NoOrganization => (
            StatusCode::FORBIDDEN,
            "Your account is not a member of an organization that uses this app, so it cannot connect it.".to_string(),
            None,
        ),
        DeviceError::Failed(e) => {
            crate::error::log(&e);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Connecting devices is unavailable right now. Try again in a moment.".to_string(),
                None,
            )
        }
    };
    let mut response = entry_page(state, current, status, typed, Some(message));
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
