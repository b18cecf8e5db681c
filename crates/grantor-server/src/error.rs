//! The one place where errors meet the wire.
//!
//! Protocol errors become RFC 6749 5.2 JSON (with `WWW-Authenticate` on 401), RFC 6750 bearer
//! challenges for token errors, and `Cache-Control: no-store` always. The private `detail` is
//! logged here and never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::params::InputError;
use grantor_core::{ErrorCode, OAuthError, ServiceError};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// A protocol error on its way to the client.
#[derive(Debug)]
pub struct OAuthReply(pub OAuthError);

impl From<OAuthError> for OAuthReply {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The algorithms DPoP proofs may use, as challenges and discovery name them.
pub const DPOP_ALGS: &str = "ES256 RS256";

/// Quotes a value for an HTTP auth-param (RFC 9110 11.2): backslash-escapes `"` and `\`,
/// and drops characters a header cannot carry.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

/// Logs the error with its private detail: server faults loudly, client mistakes quietly.
pub fn log(e: &OAuthError) {
    let detail = e.detail.as_deref().unwrap_or("");
    if status_of(e.code).is_server_error() {
        tracing::error!(error = e.code.as_str(), %detail, "request failed");
    } else {
        tracing::debug!(error = e.code.as_str(), description = %e.description, %detail, "request refused");
    }
}

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let e = self.0;
        log(&e);
        let status = match e.code {
            // A proof refused where a token is used is the token's refusal (RFC 9449 7.1); at
            // the token endpoint it is a 400 like any token error.
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce if e.dpop_challenge => {
                StatusCode::UNAUTHORIZED
            }
            // A device polling too often (RFC 8628 3.5) hears it as any token error, 400; a
            // caller held back by a throttle, with a Retry-After, gets 429.
            ErrorCode::SlowDown if e.retry_after.is_none() => StatusCode::BAD_REQUEST,
            code => status_of(code),
        };
        let body = Json(json!({"error": e.code.as_str(), "error_description": e.description}));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        let challenge = match e.code {
            ErrorCode::InvalidToken
            | ErrorCode::InsufficientScope
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
                if e.dpop_challenge =>
            {
                Some(format!(
                    "DPoP algs=\"{}\", error=\"{}\", error_description=\"{}\"",
                    DPOP_ALGS,
                    e.code.as_str(),
                    quoted(&e.description)
                ))
            }
            ErrorCode::InvalidClient => Some(format!(
                "Basic realm=\"grantor\", error=\"invalid_client\", error_description=\"{}\"",
                quoted(&e.description)
            )),
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => Some(format!(
                "Bearer realm=\"grantor\", error=\"{}\", error_description=\"{}\"",
                e.code.as_str(),
                quoted(&e.description)
            )),
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = e.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Input refused before it was looked at: too large (413), too many or repeated parameters.
fn refused_status(e: &InputError) -> StatusCode {
    match e {
        InputError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The status of refused input (413 when too large), for endpoints with their own format.
pub fn refused_status_of(e: &InputError) -> StatusCode {
    refused_status(e)
}

/// Refused input at a protocol endpoint: an `invalid_request` in RFC 6749 form.
pub fn refused_json(e: InputError) -> Response {
    let status = refused_status(&e);
    let mut response = OAuthReply(e.into()).into_response();
    *response.status_mut() = status;
    response
}

/// Refused input at a page.
pub fn refused_page(e: InputError) -> Response {
    crate::web::pages::error_page(
        refused_status(&e),
        "This request cannot be read",
        &e.to_string(),
    )
}

/// A JSON success body for protocol endpoints: never cached (RFC 6749 5.1).
pub fn no_store<T: serde::Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An authorization endpoint error: a page when the client or redirect URI is bad, else a
/// redirect back to the app with `error`, `error_description`, `state` and `iss`.
#[derive(Debug)]
pub struct AuthorizeReply(pub grantor_core::authorize::AuthorizeError);

impl From<grantor_core::authorize::AuthorizeError> for AuthorizeReply {
    fn from(e: grantor_core::authorize::AuthorizeError) -> Self {
        Self(e)
    }
}

impl IntoResponse for AuthorizeReply {
    fn into_response(self) -> Response {
        use grantor_core::authorize::AuthorizeError;
        match self.0 {
            AuthorizeError::Page(e) => {
                log(&e);
                let status = if status_of(e.code).is_server_error() {
                    status_of(e.code)
                } else {
                    StatusCode::BAD_REQUEST
                };
                crate::web::pages::error_page(
                    status,
                    "This sign-in request cannot be completed",
                    &e.description,
                )
            }
            AuthorizeError::Redirect(redirect) => {
                log(&redirect.error);
                crate::web::see_other(&redirect.location)
            }
        }
    }
}

/// A management API error as RFC 9457 `application/problem+json`: the one place where
/// [`ServiceError`] meets the wire. Faults of the server are logged with their detail and
/// answered without it.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    errors: Vec<grantor_core::FieldError>,
}

/// A problem as sent (RFC 9457), and as the OpenAPI document describes it.
#[derive(Serialize, ToSchema)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// Each invalid field and why, on a 422 that has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

/// One invalid field of a request, named as the request names it.
#[derive(Serialize, ToSchema)]
pub struct FieldError {
    field: String,
    message: String,
}

impl From<grantor_core::FieldError> for FieldError {
    fn from(e: grantor_core::FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
        }
    }
}

/// The problems any management API call may answer, for the OpenAPI document.
pub struct ApiErrors;

impl utoipa::IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        [
            (StatusCode::BAD_REQUEST, "The request cannot be read"),
            (
                StatusCode::UNAUTHORIZED,
                "No access token, or one that is not valid for this API",
            ),
            (
                StatusCode::FORBIDDEN,
                "The token's scopes or the caller's role do not allow this",
            ),
            (
                StatusCode::NOT_FOUND,
                "No such object, or one in an organization the caller cannot see",
            ),
            (StatusCode::CONFLICT, "It already exists"),
            (StatusCode::PAYLOAD_TOO_LARGE, "The body is too large"),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid fields, each with the reason",
            ),
            (StatusCode::SERVICE_UNAVAILABLE, "Storage is unavailable"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(Ref::from_schema_name("ProblemBody"))))
                        .build(),
                )
                .build();
            (status.as_u16().to_string(), RefOr::T(response))
        })
        .collect()
    }
}

/// Marks the answer to a rehearsal (see [`ServiceError::Rehearsed`]) that would have gone
/// ahead: the idempotency middleware then replays the first answer.
#[derive(Debug, Clone, Copy)]
pub struct RehearsalPassed;

impl Problem {
    /// A problem with this status, for refusals that are not `Manager`'s.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 401 with a bearer challenge (RFC 6750): no token, or one that is not valid here.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::Invalid(_) | ServiceError::InvalidFields(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ServiceError::Unavailable(detail) => {
                tracing::error!(%detail, "management request failed on storage");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "management request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ServiceError::Rehearsed => StatusCode::OK,
        };
        let detail = e.to_string();
        let errors = match e {
            ServiceError::InvalidFields(errors) => errors,
            _ => Vec::new(),
        };
        Self {
            status,
            detail,
            errors,
        }
    }
}

impl From<InputError> for Problem {
    fn from(e: InputError) -> Self {
        Self {
            status: refused_status(&e),
            detail: e.to_string(),
            errors: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let challenge = (self.status == StatusCode::UNAUTHORIZED).then(|| {
            format!(
                "Bearer realm=\"grantor\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(&self.detail)
            )
        });
        let body = ProblemBody {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors.into_iter().map(FieldError::from).collect(),
        };
        let rehearsed = self.status == StatusCode::OK;
        let mut response = (self.status, Json(body)).into_response();
        if rehearsed {
            response.extensions_mut().insert(RehearsalPassed);
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(Ok(value)) = challenge.map(|c| HeaderValue::from_str(&c)) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// What went wrong on a page, as the person sees it: the kind decides the status and the
/// title, the message says what to do. Every HTML error page is rendered here.
#[derive(Debug)]
pub enum PageError {
    /// Nobody is signed in: to the sign-in page, and back to `return_to` after.
    SignIn { return_to: String },
    /// The organization `org_name` requires a second factor the session lacks: sign in again
    /// with it (`enrolled`), or set one up first; then back to `return_to`.
    SecondFactor {
        org_name: String,
        return_to: String,
        enrolled: bool,
    },
    /// The form's CSRF token is missing or does not fit this browser: reload and retry.
    FormExpired(&'static str),
    /// The query or form was refused before it was read (too large, malformed).
    Refused(InputError),
    /// The request cannot be served as sent.
    BadRequest {
        title: &'static str,
        message: &'static str,
    },
    /// Storage failed; the detail is logged, never shown.
    Unavailable {
        message: &'static str,
        detail: String,
    },
    /// A console request `Manager` refused or could not serve, with no form to show it
    /// beside: its message says what was wrong (faults of the server are logged, not shown).
    Console(ServiceError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::SignIn { return_to } => {
                let back: String =
                    url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
                return crate::web::see_other(&format!("/login?return_to={back}"));
            }
            Self::SecondFactor {
                return_to,
                enrolled: true,
                ..
            } => return Self::SignIn { return_to }.into_response(),
            Self::SecondFactor {
                org_name,
                return_to,
                enrolled: false,
            } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("required", &org_name)
                    .append_pair("return_to", &return_to)
                    .finish();
                return crate::web::see_other(&format!("/account/security?{query}"));
            }
            Self::FormExpired(message) => (StatusCode::FORBIDDEN, "Form expired", message),
            Self::Refused(e) => return refused_page(e),
            Self::BadRequest { title, message } => (StatusCode::BAD_REQUEST, title, message),
            Self::Unavailable { message, detail } => {
                tracing::error!(%detail, "a page could not be served");
                (StatusCode::SERVICE_UNAVAILABLE, "Try again", message)
            }
            Self::Console(e) => {
                let (status, title) = match &e {
                    ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
                    ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
                    ServiceError::Conflict(_) => (StatusCode::CONFLICT, "Already there"),
                    ServiceError::Invalid(_) | ServiceError::InvalidFields(_) => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "Not possible")
                    }
                    ServiceError::Unavailable(detail) => {
                        tracing::error!(%detail, "a console page could not be served");
                        (StatusCode::SERVICE_UNAVAILABLE, "Try again")
                    }
                    // A fault of this server, as in the API: 500, not "try again".
                    ServiceError::Internal(detail) => {
                        tracing::error!(%detail, "a console page failed");
                        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
                    }
                    ServiceError::Rehearsed => (StatusCode::OK, "Allowed"),
                };
                let message = sentence(&e.to_string());
                return crate::web::pages::console_error_page(status, title, &message);
            }
        };
        crate::web::pages::error_page(status, title, message)
    }
}

/// `?` on `Manager`'s answer in a console handler: the refusal's own page.
impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        Self::Console(e)
    }
}

/// A message from the core as a sentence: capitalised, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
