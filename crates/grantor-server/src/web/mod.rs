//! The pages people see: sign-in, approval, sign-out and their account. Kept apart from the
//! protocol endpoints; every form carries a CSRF token; nothing needs JavaScript.

mod account;
pub mod consent;
pub mod csrf;
mod login;
mod logout;
pub mod pages;
pub mod session;

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
        .route("/login", get(login::show).post(login::submit))
        .route("/consent", post(consent::submit))
        .route("/logout", get(logout::show).post(logout::submit))
        .route("/account", get(account::show))
        .route("/account/approvals/revoke", post(account::revoke))
        .route("/assets/grantor.css", get(stylesheet))
}

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
/// caching of personal pages, no referrer leaking the URL's parameters.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
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
        return response;
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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
