//! `/verify-email/{token}`: the landing page of a mailed verification link. Opening the link
//! only shows a button (mail scanners open links too); pressing it uses the link, once, and
//! marks the address verified. Forms are bound to the browser cookie, as the sign-in form is:
//! the link works in any browser, signed in or not. Also the messages that carry links:
//! verification links, and invitations mailed by Grantor.

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
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::manage::{EMAIL_VERIFICATION_TTL, INVITATION_TTL};
use grantor_core::model::{Invitation, User};
use grantor_core::{ServiceError, secret};

#[derive(Template, Default)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    csrf: String,
    token: String,
    /// The address just verified.
    verified: Option<String>,
    error: Option<String>,
}

/// The message that carries a verification link to the account's own address.
pub fn verification_mail(state: &AppState, user: &User, token: &str) -> Mail {
    let issuer = &state.provider.settings.issuer;
    let hours = EMAIL_VERIFICATION_TTL / 3600;
    Mail {
        to: user.email.clone(),
        subject: "Verify your email for Grantor".into(),
        body: format!(
            "Hello {name},\n\n\
             To confirm that {email} is your address for your account at {issuer}, open \
             this link within {hours} hours:\n\n\
             {issuer}/verify-email/{token}\n\n\
             The link works once. If you have no account there, ignore this message.\n",
            name = user.name,
            email = user.email,
        ),
    }
}

/// The message that carries an invitation's link to the invited address.
pub fn invitation_mail(
    state: &AppState,
    invitation: &Invitation,
    org_name: &str,
    token: &str,
) -> Mail {
    let issuer = &state.provider.settings.issuer;
    let days = INVITATION_TTL / (24 * 3600);
    Mail {
        to: invitation.email.clone(),
        subject: format!("You are invited to {org_name} on Grantor"),
        body: format!(
            "Hello,\n\n\
             You are invited to join the organization {org_name} at {issuer} as a {role}.\n\n\
             To accept, open this link within {days} days:\n\n\
             {issuer}/invitations/{token}\n\n\
             The link works once. If you did not expect it, ignore this message.\n",
            role = invitation.role,
        ),
    }
}

/// Mails `user` a new verification link, when mail is on and the address is not verified
/// yet: after someone else created the account. Failures are logged; the caller's change
/// stands.
pub async fn send_verification(
    state: &AppState,
    caller: &grantor_core::model::Caller,
    user: &User,
) {
    if !state.mailer.is_on() {
        return;
    }
    match state.manager.email_verification_for(caller, user).await {
        Ok(Some(token)) => state.mailer.send(verification_mail(state, user, &token)),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "making an email verification link failed"),
    }
}

fn page(state: &AppState, headers: &HeaderMap, status: StatusCode, page: VerifyPage) -> Response {
    let (binding, new_cookie) = browser_binding(state, headers);
    let mut response = render(
        status,
        &VerifyPage {
            csrf: csrf::token(&state.csrf_key, &binding),
            ..page
        },
    );
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Nothing but a token's shape goes back into the page.
    let token = if secret::has_shape(&token, secret::Kind::EmailVerification) {
        token
    } else {
        String::new()
    };
    let shown = VerifyPage {
        token,
        ..VerifyPage::default()
    };
    page(&state, &headers, StatusCode::OK, shown)
}

pub async fn verify(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(token): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let binding = session::cookie(&state, &headers, Cookie::Browser).unwrap_or_default();
    if !csrf::verify(&state.csrf_key, binding, form.get("csrf")) {
        return PageError::FormExpired("Open the link from your mail again and try once more.")
            .into_response();
    }
    match state.manager.verify_email(&token, Some(address)).await {
        Ok(user) => {
            let shown = VerifyPage {
                verified: Some(user.email),
                ..VerifyPage::default()
            };
            page(&state, &headers, StatusCode::OK, shown)
        }
        Err(ServiceError::Invalid(why)) => {
            let shown = VerifyPage {
                error: Some(sentence(&why)),
                ..VerifyPage::default()
            };
            page(&state, &headers, StatusCode::GONE, shown)
        }
        Err(e) => PageError::Unavailable {
            message: "Verifying emails is unavailable right now.",
            detail: e.to_string(),
        }
        .into_response(),
    }
}
