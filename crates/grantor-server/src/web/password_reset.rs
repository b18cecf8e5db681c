//! `/password-reset`: a person who forgot their password asks for a link by email, and the
//! link's page sets a new one. The request always answers the same page whether or not the
//! account exists; only a real account's own address gets mail. Forms are bound to the
//! browser cookie, as the sign-in form is (there is no session).

use super::login::browser_binding;
use super::session::{self, Cookie};
use super::{csrf, render};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{PageError, sentence};
use crate::input::PageForm;
use crate::mail::Mail;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::login::MAX_EMAIL_BYTES;
use grantor_core::manage::{PASSWORD_RESET_TTL, ResetRequestError};
use grantor_core::model::User;

#[derive(Template, Default)]
#[template(path = "password_reset.html")]
struct RequestPage {
    csrf: String,
    email: String,
    /// Whether this server can mail anything.
    available: bool,
    error: Option<String>,
    notice: Option<String>,
    /// The address the link went to, if it exists: the same page either way.
    sent_to: Option<String>,
}

#[derive(Template, Default)]
#[template(path = "password_reset_new.html")]
struct NewPasswordPage {
    csrf: String,
    token: String,
    email: String,
    new_error: Option<String>,
    confirm_error: Option<String>,
    done: bool,
}

/// Renders `page` with the browser cookie that binds its CSRF token, made when missing.
fn with_binding<T: Template>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    fill: impl FnOnce(String) -> T,
) -> Response {
    let (binding, new_cookie) = browser_binding(state, headers);
    let mut response = render(status, &fill(csrf::token(&state.csrf_key, &binding)));
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn form_is_ours(state: &AppState, headers: &HeaderMap, submitted: Option<&str>) -> bool {
    let binding = session::cookie(state, headers, Cookie::Browser).unwrap_or_default();
    csrf::verify(&state.csrf_key, binding, submitted)
}

fn request_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: RequestPage,
) -> Response {
    let available = state.mailer.is_on();
    with_binding(state, headers, status, |csrf| RequestPage {
        csrf,
        available,
        ..page
    })
}

pub async fn ask(State(state): State<AppState>, headers: HeaderMap) -> Response {
    request_page(&state, &headers, StatusCode::OK, RequestPage::default())
}

/// The message that carries a reset link to the account's own address.
fn reset_mail(state: &AppState, user: &User, token: &str) -> Mail {
    let issuer = &state.provider.settings.issuer;
    let minutes = PASSWORD_RESET_TTL / 60;
    Mail {
        to: user.email.clone(),
        subject: "Reset your Grantor password".into(),
        body: format!(
            "Hello {name},\n\n\
             Someone, we hope you, asked to reset the password of your account {email} \
             at {issuer}.\n\n\
             To choose a new password, open this link within {minutes} minutes:\n\n\
             {issuer}/password-reset/{token}\n\n\
             The link works once. If you did not ask, ignore this message: your password \
             stays as it is.\n",
            name = user.name,
            email = user.email,
        ),
    }
}

pub async fn request(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let email = form.get("email").unwrap_or_default().trim().to_string();
    // Never echo back more than an address can hold.
    let shown = if email.len() > MAX_EMAIL_BYTES {
        String::new()
    } else {
        email.clone()
    };
    let refused = |status, message: &str| {
        let page = RequestPage {
            email: shown.clone(),
            error: Some(message.to_string()),
            ..RequestPage::default()
        };
        request_page(&state, &headers, status, page)
    };
    if !form_is_ours(&state, &headers, form.get("csrf")) {
        return refused(
            StatusCode::FORBIDDEN,
            "The form expired or your browser blocked cookies. Please try again.",
        );
    }
    if !state.mailer.is_on() {
        return request_page(&state, &headers, StatusCode::OK, RequestPage::default());
    }
    if email.is_empty() || email.len() > MAX_EMAIL_BYTES {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "Enter an email address.");
    }
    let asked = state.manager.request_password_reset(&email, address).await;
    match asked {
        Ok(found) => {
            if let Some((user, token)) = found {
                state.mailer.send(reset_mail(&state, &user, &token));
            }
            let page = RequestPage {
                sent_to: Some(shown),
                ..RequestPage::default()
            };
            request_page(&state, &headers, StatusCode::OK, page)
        }
        Err(ResetRequestError::NotAnEmail) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, "Enter an email address.")
        }
        Err(ResetRequestError::Throttled(wait)) => {
            let minutes = (wait + 59) / 60;
            let message = format!("Too many reset requests. Try again in {minutes} minutes.");
            let mut response = refused(StatusCode::TOO_MANY_REQUESTS, &message);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.unsigned_abs()));
            response
        }
        Err(ResetRequestError::Service(e)) => PageError::Unavailable {
            message: "Password resets are unavailable right now.",
            detail: e.to_string(),
        }
        .into_response(),
    }
}

/// The request page again, saying the link no longer works.
fn link_gone(state: &AppState, headers: &HeaderMap) -> Response {
    let page = RequestPage {
        notice: Some(
            "That reset link was already used or has expired. Ask for a new one below.".into(),
        ),
        ..RequestPage::default()
    };
    request_page(state, headers, StatusCode::GONE, page)
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match state.manager.password_reset(&token).await {
        Ok(view) => with_binding(&state, &headers, StatusCode::OK, |csrf| NewPasswordPage {
            csrf,
            token,
            email: view.email,
            ..NewPasswordPage::default()
        }),
        Err(ServiceError::Invalid(_)) => link_gone(&state, &headers),
        Err(e) => PageError::Unavailable {
            message: "Password resets are unavailable right now.",
            detail: e.to_string(),
        }
        .into_response(),
    }
}

pub async fn set(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(token): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let view = match state.manager.password_reset(&token).await {
        Ok(view) => view,
        Err(ServiceError::Invalid(_)) => return link_gone(&state, &headers),
        Err(e) => {
            return PageError::Unavailable {
                message: "Password resets are unavailable right now.",
                detail: e.to_string(),
            }
            .into_response();
        }
    };
    let form_page = |status, new_error: Option<String>, confirm_error: Option<String>| {
        with_binding(&state, &headers, status, |csrf| NewPasswordPage {
            csrf,
            token: token.clone(),
            email: view.email.clone(),
            new_error,
            confirm_error,
            done: false,
        })
    };
    if !form_is_ours(&state, &headers, form.get("csrf")) {
        let message = "The form expired or your browser blocked cookies. Please try again.";
        return form_page(StatusCode::FORBIDDEN, Some(message.into()), None);
    }
    let new = form.get("new_password").unwrap_or_default();
    if new != form.get("confirm_password").unwrap_or_default() {
        let differ = Some("The two new passwords differ.".to_string());
        return form_page(StatusCode::UNPROCESSABLE_ENTITY, None, differ);
    }
    let passwords = &state.provider.passwords;
    let reset = state
        .manager
        .reset_password(&token, passwords, new, Some(address))
        .await;
    match reset {
        Ok(user) => {
            let mut response = render(
                StatusCode::OK,
                &NewPasswordPage {
                    email: user.email,
                    done: true,
                    ..NewPasswordPage::default()
                },
            );
            // This browser's session, if any, ended with the others.
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(&state, Cookie::Session, "", 0),
            );
            response
        }
        Err(ServiceError::InvalidFields(errors)) => {
            let message = errors.first().map(|e| sentence(&e.message));
            form_page(StatusCode::UNPROCESSABLE_ENTITY, message, None)
        }
        // Used at this very moment in another tab, or expired while the form was open.
        Err(ServiceError::Invalid(_)) if state.manager.password_reset(&token).await.is_err() => {
            link_gone(&state, &headers)
        }
        Err(ServiceError::Invalid(why)) => {
            form_page(StatusCode::SERVICE_UNAVAILABLE, Some(sentence(&why)), None)
        }
        Err(e) => PageError::Unavailable {
            message: "Password resets are unavailable right now.",
            detail: e.to_string(),
        }
        .into_response(),
    }
}
