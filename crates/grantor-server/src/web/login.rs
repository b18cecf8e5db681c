//! `GET /login` and `POST /login`: email and password, throttled, never saying whether the
//! account exists. An account with an authenticator app or a passkey goes on to
//! `second_step`. "Sign in with a passkey" posts to `passkeys`.

use super::pages::LoginPage;
use super::session::{self, Cookie};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::{PageForm, PageQuery};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::login::{self, LoginError};
use grantor_core::model::SignInMethod;
use grantor_core::secret;
use grantor_core::store::Registry;

/// Only local paths, so the sign-in page cannot be used to redirect anywhere else. Control
/// characters and backslashes are refused too: browsers drop tabs and read `\` as `/`, which
/// would turn `/\t/evil.example` into `//evil.example`.
pub fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(v)
            if v.starts_with('/')
                && !v.starts_with("//")
                && !v.chars().any(|c| c.is_control() || c == '\\') =>
        {
            v.to_string()
        }
        _ => "/account".to_string(),
    }
}

/// The app a sign-in continues to, for the page's subtitle.
async fn app_name(state: &AppState, return_to: &str) -> Option<String> {
    let query = return_to.strip_prefix("/oauth2/authorize?")?;
    let client_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "client_id")?
        .1
        .into_owned();
    state
        .store
        .client(&client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.app.name.clone())
}

/// The browser's CSRF binding cookie, creating one when absent.
pub(super) fn browser_binding(
    state: &AppState,
    headers: &HeaderMap,
) -> (String, Option<HeaderValue>) {
    match session::cookie(state, headers, Cookie::Browser) {
        Some(v) if !v.is_empty() => (v.to_string(), None),
        _ => {
            let value = secret::new_id("b_").unwrap_or_default();
            let cookie = session::set_cookie(state, Cookie::Browser, &value, 30 * 24 * 3600);
            (value, Some(cookie))
        }
    }
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: String,
    email: String,
    error: Option<String>,
) -> Response {
    page_with(state, headers, status, return_to, email, error, None).await
}

/// The sign-in page after a passkey was refused, saying why beside its button.
pub(super) async fn page_with_passkey_error(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: String,
    message: &'static str,
) -> Response {
    let passkey_error = Some(message.to_string());
    page_with(
        state,
        headers,
        status,
        return_to,
        String::new(),
        None,
        passkey_error,
    )
    .await
}

async fn page_with(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: String,
    email: String,
    error: Option<String>,
    passkey_error: Option<String>,
) -> Response {
    let (binding, new_cookie) = browser_binding(state, headers);
    let app_name = app_name(state, &return_to).await;
    let csrf = csrf::token(&state.csrf_key, &binding);
    let mut response = render(
        status,
        &LoginPage {
            csrf,
            return_to,
            email,
            app_name,
            error,
            passkey: super::passkeys::sign_in_form(state, &binding),
            passkey_error,
            passkey_script: super::PASSKEY_SCRIPT,
        },
    );
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let return_to = safe_return_to(query.get("return_to"));
    page(
        &state,
        &headers,
        StatusCode::OK,
        return_to,
        String::new(),
        None,
    )
    .await
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let return_to = safe_return_to(form.get("return_to"));
    let email = form.get("email").unwrap_or_default().trim().to_string();
    let binding = session::cookie(&state, &headers, Cookie::Browser).unwrap_or_default();
    if !csrf::verify(&state.csrf_key, binding, form.get("csrf")) {
        let message =
            "Your sign-in form expired or your browser blocked cookies. Please try again."
                .to_string();
        return page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            return_to,
            email,
            Some(message),
        )
        .await;
    }
    let password = form.get("password").unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        let message = "Enter your email and your password.".to_string();
        return page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            return_to,
            email,
            Some(message),
        )
        .await;
    }
    let checked = state
        .provider
        .check_password(&email, password, address)
        .await;
    let (status, message, retry_after) = match checked {
        Ok(user) => {
            return super::second_step::after_password(
                &state, &headers, address, &user.id, &return_to,
            )
            .await;
        }
        Err(LoginError::Invalid) => (
            StatusCode::UNAUTHORIZED,
            "The email or password is incorrect.".to_string(),
            None,
        ),
        Err(LoginError::TooLong) => (
            StatusCode::BAD_REQUEST,
            "The email or password is longer than any account's.".to_string(),
            None,
        ),
        Err(LoginError::Throttled(wait)) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. Try again in {wait} seconds."),
            Some(wait.unsigned_abs()),
        ),
        Err(LoginError::Disabled) => (
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask an administrator to enable it.".to_string(),
            None,
        ),
        Err(LoginError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Many people are signing in right now. Try again in a moment.".to_string(),
            Some(1),
        ),
        Err(LoginError::Store(e)) => {
            tracing::error!(error = %e, "login failed on storage");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is unavailable right now. Try again in a moment.".to_string(),
                None,
            )
        }
    };
    // Never echo back more than an email address can hold.
    let email = if email.len() > login::MAX_EMAIL_BYTES {
        String::new()
    } else {
        email
    };
    let mut response = page(&state, &headers, status, return_to, email, Some(message)).await;
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Starts the session of a user who just signed in and goes on to `return_to`.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    user_id: &str,
    method: SignInMethod,
    return_to: &str,
) -> Response {
    match session::renew(state, headers, address, user_id, method).await {
        Ok(cookie) => {
            let mut response = see_other(return_to);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => PageError::Unavailable {
            message: "Signing in is unavailable right now.",
            detail: format!("could not start a session: {e}"),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(
            safe_return_to(Some("/oauth2/authorize?a=b")),
            "/oauth2/authorize?a=b"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/x",
            "evil",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/account", "{bad:?}");
        }
        assert_eq!(safe_return_to(None), "/account");
    }
}
