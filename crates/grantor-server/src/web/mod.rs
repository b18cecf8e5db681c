//! The pages people see: sign-in, approval (of apps and of devices), sign-out and their account. Kept apart from the
//! protocol endpoints; every form carries a CSRF token; nothing needs JavaScript.

mod account;
pub(crate) mod consent;
mod console;
pub(crate) mod csrf;
mod device;
mod home;
mod invitation;
mod login;
mod logout;
pub(crate) mod pages;
mod passkeys;
mod password_reset;
pub(crate) mod second_step;
mod security;
pub(crate) mod session;
pub(crate) mod verify_email;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::show).post(login::submit))
        .route(
            "/login/code",
            get(second_step::show).post(second_step::submit),
        )
        .route(
            "/password-reset",
            get(password_reset::ask).post(password_reset::request),
        )
        .route(
            "/password-reset/{token}",
            get(password_reset::show).post(password_reset::set),
        )
        .route("/consent", post(consent::submit))
        .route("/device", get(device::show).post(device::submit))
        .route("/device/decide", post(device::decide))
        .route("/logout", get(logout::show).post(logout::submit))
        .route("/account", get(account::show))
        .route("/account/approvals/revoke", post(account::revoke))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/end", post(account::end_session))
        .route(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/login/passkey", post(passkeys::sign_in))
        .route("/login/code/passkey", post(passkeys::second_step))
        .route("/account/security/passkeys", post(passkeys::add))
        .route("/account/security/passkeys/remove", post(passkeys::remove))
        .route("/account/security", get(security::show))
        .route("/account/security/totp", post(security::confirm))
        .route("/account/security/totp/remove", post(security::remove))
        .route(
            "/account/security/recovery-codes",
            post(security::regenerate),
        )
        .route(
            "/invitations/{token}",
            get(invitation::show).post(invitation::accept),
        )
        .route(
            "/verify-email/{token}",
            get(verify_email::show).post(verify_email::verify),
        )
        .route("/account/verify-email", post(account::send_verification))
        .route("/assets/grantor.css", get(stylesheet))
        .merge(console::router())
}

/// The console's copy button, inlined where a secret is shown once. The policy below allows
/// exactly this script by its hash, and no other.
pub const COPY_SCRIPT: &str = include_str!("../../assets/copy.js");
/// The passkey forms' script (sign-in, second step, account security), inlined and allowed
/// by its hash likewise.
pub const PASSKEY_SCRIPT: &str = include_str!("../../assets/passkeys.js");
const CONTENT_SECURITY_POLICY: &str = concat!(
    "default-src 'none'; style-src 'self'; img-src 'self'; ",
    "script-src 'sha256-Gh44pQDjIFKLK7rpBMFcGeCT2Zt7C5r3D5DRPxWe77w=' ",
    "'sha256-+OJHNQW/YoeP54VeEMLmHbLEaRoctLu5YjZ+4CbsuKI='; ",
    "frame-ancestors 'none'; base-uri 'none'"
);

async fn stylesheet() -> Response {
    let mut response = include_str!("../../assets/grantor.css").into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Headers every HTML response carries, whichever router produced it (the approval page and
/// the authorization error page come from the protocol endpoints): no framing, no script, no
/// caching of personal pages, no referrer leaking the URL's parameters; of scripts only the
/// copy button's.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(&mut response);
    response
}

/// What [`security_headers`] adds, for answers made outside the router too (a request that
/// ran out of time).
pub fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return;
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Renders a page; a template failure becomes a plain error page rather than a panic.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A 303 to `location`.
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => crate::error::PageError::BadRequest {
            title: "Bad redirect",
            message: "The redirect address is not valid.",
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const COPY_SCRIPT_HASH: &str = "sha256-Gh44pQDjIFKLK7rpBMFcGeCT2Zt7C5r3D5DRPxWe77w=";

    #[test]
    fn the_policy_allows_the_copy_script_by_its_hash() {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, COPY_SCRIPT.as_bytes());
        let hash = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        );
        assert_eq!(
            hash, COPY_SCRIPT_HASH,
            "update COPY_SCRIPT_HASH after editing copy.js"
        );
        assert!(CONTENT_SECURITY_POLICY.contains(&format!("'{COPY_SCRIPT_HASH}'")));
    }

    #[test]
    fn the_policy_allows_the_passkey_script_by_its_hash() {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, PASSKEY_SCRIPT.as_bytes());
        let hash = format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        );
        assert!(
            CONTENT_SECURITY_POLICY.contains(&hash),
            "put {hash} in the policy after editing passkeys.js"
        );
    }
}
