//! Every query string and form body an outsider sends is read here, bounded in size and in
//! number of parameters before any other work (see `grantor_core::params`). Refusals answer
//! in the format of the endpoint: RFC 6749 JSON for protocol endpoints, a page for pages.

use crate::error::{PageError, Problem, refused_json, refused_page};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use grantor_core::params::{InputError, MAX_FORM_BYTES, MAX_QUERY_BYTES, Params};
use grantor_core::{OAuthError, ServiceError};
use http_body_util::BodyExt;

/// Past the limit, a body is still read (and thrown away) up to this size, so that an honest
/// client still sending it sees the 413 rather than a reset connection; beyond it the
/// connection is simply dropped.
const DRAIN_BYTES: u64 = 1024 * 1024;

/// Reads at most `limit` bytes of body; a larger one is refused, and one declaring a length
/// beyond what is drained is refused without reading anything.
async fn read_body(req: Request, limit: usize) -> Result<Bytes, InputError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_BYTES) {
        return Err(InputError::TooLarge { limit });
    }
    let mut body = req.into_body();
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| InputError::Unreadable)?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        seen += data.len() as u64;
        if seen > DRAIN_BYTES {
            break;
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(data);
        }
    }
    if seen > limit as u64 {
        return Err(InputError::TooLarge { limit });
    }
    Ok(Bytes::from(kept))
}

fn query_bytes(parts: &Parts) -> &[u8] {
    parts.uri.query().unwrap_or_default().as_bytes()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A protocol endpoint's `application/x-www-form-urlencoded` body (token, introspection,
/// revocation); anything else is an `invalid_request` in the protocol's own format.
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Err(crate::error::OAuthReply(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ))
            .into_response());
        }
        let body = read_body(req, MAX_FORM_BYTES).await.map_err(refused_json)?;
        Params::parse(&body, MAX_FORM_BYTES)
            .map(Self)
            .map_err(refused_json)
    }
}

/// The authorization request: the query of a GET or the form body of a POST (OIDC Core
/// 3.1.2.1). Refusals are pages: nothing about the client is known yet.
pub struct AuthorizeParams(pub Params);

impl<S: Send + Sync> FromRequest<S> for AuthorizeParams {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let parsed = if req.method() == Method::POST {
            match read_body(req, MAX_FORM_BYTES).await {
                Ok(body) => Params::parse(&body, MAX_FORM_BYTES),
                Err(e) => Err(e),
            }
        } else {
            let (parts, _) = req.into_parts();
            Params::parse(query_bytes(&parts), MAX_QUERY_BYTES)
        };
        parsed.map(Self).map_err(refused_page)
    }
}

/// A page's form body. A name may repeat (the approval form's scope checkboxes).
pub struct PageForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = PageError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let body = read_body(req, MAX_FORM_BYTES)
            .await
            .map_err(PageError::Refused)?;
        Params::parse_lenient(&body, MAX_FORM_BYTES)
            .map(Self)
            .map_err(PageError::Refused)
    }
}

/// A management API body: `application/json` (an empty body counts as `{}`), bounded like
/// every other body, decoded into `T`; what does not fit is a 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().eq_ignore_ascii_case("application/json"));
        let body = read_body(req, MAX_FORM_BYTES).await?;
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        if json == Some(false) || (json.is_none() && body != b"{}") {
            return Err(ServiceError::Invalid("the body must be application/json".into()).into());
        }
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ServiceError::Invalid(format!("the body is not valid: {e}")))?;
        // No text of this API has a use for NUL, and PostgreSQL refuses it: refused here,
        // by field, before anything reads it.
        if let Some(field) = nul_in(&value, String::new()) {
            return Err(ServiceError::field(field, "must not contain a NUL character").into());
        }
        // The path of what did not fit names the field, as `Manager` names the fields it
        // refuses (`scopes[1].name`); serde stops at the first, so it is the only one.
        let decoded = serde_path_to_error::deserialize(value).map_err(|e| {
            let message = format!("the body is not valid: {}", e.inner());
            match e.path().to_string() {
                root if root == "." => ServiceError::Invalid(message),
                field => ServiceError::field(field, message),
            }
        })?;
        Ok(Self(decoded))
    }
}

/// Where a JSON value holds a string (or a key) with NUL, named as fields are (`scopes[1].name`).
fn nul_in(value: &serde_json::Value, at: String) -> Option<String> {
    let field = |name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => Some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, format!("{at}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            if name.contains('\0') {
                Some(field(&name.replace('\0', "")))
            } else {
                nul_in(item, field(name))
            }
        }),
        _ => None,
    }
}

/// Refuses a path with an encoded NUL (`%00`) before any handler decodes it into a lookup:
/// it names nothing, and PostgreSQL refuses NUL in text.
pub async fn refuse_nul_in_path(request: Request, next: axum::middleware::Next) -> Response {
    if !request.uri().path().contains("%00") {
        return next.run(request).await;
    }
    let refused = InputError::Nul("path".into());
    match crate::serve::Surface::of(request.uri().path()) {
        crate::serve::Surface::OAuth => refused_json(refused),
        crate::serve::Surface::Api => Problem::from(refused).into_response(),
        crate::serve::Surface::Page => refused_page(refused),
    }
}

/// A page's query string.
pub struct PageQuery(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Params::parse_lenient(query_bytes(parts), MAX_QUERY_BYTES)
            .map(Self)
            .map_err(PageError::Refused)
    }
}

/// The largest registration body (RFC 7591) read: client metadata is a few hundred bytes.
pub const REGISTRATION_BODY_BYTES: usize = 16 * 1024;

/// A dynamic registration's `application/json` body (RFC 7591 3.1), bounded, as JSON; what
/// cannot be read is refused as `invalid_client_metadata` in RFC 7591's format.
pub struct RegistrationJson(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for RegistrationJson {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let refuse = |status: axum::http::StatusCode, message: String| {
            let mut response = crate::error::OAuthReply(OAuthError::new(
                grantor_core::ErrorCode::InvalidClientMetadata,
                message,
            ))
            .into_response();
            *response.status_mut() = status;
            response
        };
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(refuse(
                axum::http::StatusCode::BAD_REQUEST,
                "the body must be application/json".into(),
            ));
        }
        let body = read_body(req, REGISTRATION_BODY_BYTES)
            .await
            .map_err(|e| refuse(crate::error::refused_status_of(&e), e.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            refuse(
                axum::http::StatusCode::BAD_REQUEST,
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        if let Some(field) = nul_in(&value, String::new()) {
            return Err(refuse(
                axum::http::StatusCode::BAD_REQUEST,
                format!("{field}: must not contain a NUL character"),
            ));
        }
        Ok(Self(value))
    }
}
