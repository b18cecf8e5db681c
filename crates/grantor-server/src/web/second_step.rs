//! `GET /login/code` and `POST /login/code`: the second step of a sign-in for an account with
//! an authenticator app or a passkey. The session starts only after the code (or the passkey,
//! `passkeys::second_step`).
//!
//! Between the two steps the browser holds a short-lived pending cookie: the user's id and
//! an expiry, with a MAC that also covers the browser's binding cookie, so it works in that
//! browser only, for five minutes, and is no session (nothing signed in can use it). What it
//! allows, entering codes, is throttled per account.

use super::login::{browser_binding, safe_return_to, signed_in};
use super::pages::CodePage;
use super::session::{self, Cookie};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::input::{PageForm, PageQuery};
use aws_lc_rs::hmac;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::manage::CodeError;
use grantor_core::model::SignInMethod;

/// How long the second step waits for its code.
const PENDING_TTL: i64 = 5 * 60;

fn mac_key(state: &AppState) -> hmac::Key {
    state.kek.derive_mac_key("grantor sign-in second step")
}

fn mac_input(binding: &str, user_id: &str, expires_at: i64) -> String {
    format!("{binding}\n{user_id}\n{expires_at}")
}

/// The pending cookie's value for `user_id`, bound to the browser's `binding`.
fn pending_value(state: &AppState, binding: &str, user_id: &str, expires_at: i64) -> String {
    let mac = hmac::sign(
        &mac_key(state),
        mac_input(binding, user_id, expires_at).as_bytes(),
    );
    format!("{user_id}.{expires_at}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The user whose second step this browser is at, if its pending cookie is genuine, its
/// own and not expired.
pub(super) fn pending_user(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let binding = session::cookie(state, headers, Cookie::Browser).filter(|b| !b.is_empty())?;
    let value = session::cookie(state, headers, Cookie::Pending)?;
    let mut parts = value.splitn(3, '.');
    let (user_id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let expires_at: i64 = expires.parse().ok()?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    hmac::verify(
        &mac_key(state),
        mac_input(binding, user_id, expires_at).as_bytes(),
        &mac,
    )
    .ok()?;
    (expires_at > state.provider.clock.now()).then(|| user_id.to_string())
}

pub(super) fn back_to_login(return_to: &str) -> Response {
    let back: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    see_other(&format!("/login?return_to={back}"))
}

/// After a right password: the session starts now, or, for an account with a second factor,
/// after the code the next page asks for.
pub(crate) async fn after_password(
    state: &AppState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    user_id: &str,
    return_to: &str,
) -> Response {
    match state.manager.has_second_factor(user_id).await {
        Ok(false) => {
            let method = SignInMethod::Password;
            return signed_in(state, headers, address, user_id, method, return_to).await;
        }
        Ok(true) => {}
        Err(e) => {
            return crate::error::PageError::Unavailable {
                message: "Signing in is unavailable right now.",
                detail: format!("reading second factors: {e}"),
            }
            .into_response();
        }
    }
    let (binding, new_cookie) = browser_binding(state, headers);
    let expires_at = state.provider.clock.now() + PENDING_TTL;
    let value = pending_value(state, &binding, user_id, expires_at);
    let back: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let mut response = see_other(&format!("/login/code?return_to={back}"));
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(state, Cookie::Pending, &value, PENDING_TTL),
    );
    if let Some(cookie) = new_cookie {
        cookies.append(header::SET_COOKIE, cookie);
    }
    response
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    status: StatusCode,
    return_to: String,
    error: Option<String>,
) -> Response {
    page_with(state, headers, user_id, status, return_to, error, None).await
}

/// The second step after a passkey was refused, saying why beside its button.
pub(super) async fn page_with_passkey_error(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    status: StatusCode,
    return_to: String,
    message: &'static str,
) -> Response {
    let passkey_error = Some(message.to_string());
    page_with(
        state,
        headers,
        user_id,
        status,
        return_to,
        None,
        passkey_error,
    )
    .await
}

/// The code form for an account with an authenticator app, the passkey form for one with
/// passkeys, or both.
async fn page_with(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    status: StatusCode,
    return_to: String,
    error: Option<String>,
    passkey_error: Option<String>,
) -> Response {
    let binding = session::cookie(state, headers, Cookie::Browser).unwrap_or_default();
    let totp = state.manager.has_totp(user_id).await.unwrap_or(true);
    let passkey = super::passkeys::second_step_form(state, binding, user_id).await;
    render(
        status,
        &CodePage {
            csrf: csrf::token(&state.csrf_key, binding),
            return_to,
            error,
            totp,
            passkey,
            passkey_error,
            passkey_script: super::PASSKEY_SCRIPT,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let return_to = safe_return_to(query.get("return_to"));
    let Some(user_id) = pending_user(&state, &headers) else {
        return back_to_login(&return_to);
    };
    page(&state, &headers, &user_id, StatusCode::OK, return_to, None).await
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let return_to = safe_return_to(form.get("return_to"));
    let Some(user_id) = pending_user(&state, &headers) else {
        return back_to_login(&return_to);
    };
    let binding = session::cookie(&state, &headers, Cookie::Browser).unwrap_or_default();
    if !csrf::verify(&state.csrf_key, binding, form.get("csrf")) {
        let message = "Your form expired. Please try again.".to_string();
        return page(
            &state,
            &headers,
            &user_id,
            StatusCode::FORBIDDEN,
            return_to,
            Some(message),
        )
        .await;
    }
    let code = form.get("code").unwrap_or_default().trim();
    if code.is_empty() || code.len() > 64 {
        let message = "Enter the code from your authenticator app, or a recovery code.".to_string();
        return page(
            &state,
            &headers,
            &user_id,
            StatusCode::BAD_REQUEST,
            return_to,
            Some(message),
        )
        .await;
    }
    let checked = state
        .manager
        .check_second_factor(&user_id, &state.kek, code)
        .await;
    let (status, message, retry_after) = match checked {
        Ok(_) => {
            let method = SignInMethod::PasswordAndTotp;
            let mut response =
                signed_in(&state, &headers, address, &user_id, method, &return_to).await;
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(&state, Cookie::Pending, "", 0),
            );
            return response;
        }
        Err(CodeError::Invalid) => (
            StatusCode::UNAUTHORIZED,
            "The code is incorrect or was already used.".to_string(),
            None,
        ),
        Err(CodeError::Throttled(wait)) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many wrong codes. Try again in {wait} seconds."),
            Some(wait.unsigned_abs()),
        ),
        Err(CodeError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Many people are signing in right now. Try again in a moment.".to_string(),
            Some(1),
        ),
        Err(CodeError::Service(e)) => {
            tracing::error!(error = %e, "checking a second factor failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is unavailable right now. Try again in a moment.".to_string(),
                None,
            )
        }
    };
    let mut response = page(&state, &headers, &user_id, status, return_to, Some(message)).await;
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
