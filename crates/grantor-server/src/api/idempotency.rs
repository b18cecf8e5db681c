//! `Idempotency-Key` on management API writes: a retried request (the same caller, key,
//! method, path and body) gets the first answer again instead of acting twice, so a retried
//! create makes one app. The answer is kept a day, sealed under the key-encryption key
//! because it may hold a secret shown once, and replayed only after the retry is rehearsed:
//! `Manager` checks it as if it were new, so a caller who may no longer make the request (a
//! narrower token, a member who left) gets the refusal, not the secret.

use super::{ApiCaller, Resolved};
use crate::AppState;
use crate::error::{Problem, RehearsalPassed};
use crate::once::{Claim, OnceKey};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::params::MAX_FORM_BYTES;
use grantor_core::secret;
use std::collections::HashSet;
use std::sync::Arc;
use utoipa::IntoParams;

const HEADER: &str = "idempotency-key";
/// Answers larger than this are not kept (none of the API's are).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

fn problem(status: StatusCode, detail: &str) -> Response {
    Problem::new(status, detail).into_response()
}

/// Marks a request that is only rehearsed (see `ApiCaller`).
#[derive(Debug, Clone, Copy)]
pub struct Rehearsal;

/// The operations the OpenAPI document declares, by method and path template: a method a
/// path does not serve is answered 405 by the router, before any key is looked at.
#[derive(Clone, Default)]
pub struct Declared(Arc<HashSet<(Method, String)>>);

impl Declared {
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut declared = HashSet::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                if operation.is_some() {
                    declared.insert((method, path.clone()));
                }
            }
        }
        Self(Arc::new(declared))
    }

    fn serves(&self, method: &Method, path: Option<&MatchedPath>) -> bool {
        path.is_some_and(|p| self.0.contains(&(method.clone(), p.as_str().to_string())))
    }
}

/// `Idempotency-Key`, taken by every write: a retry with the same key, caller, path and body
/// gets the first answer again.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// 1 to 255 visible ASCII characters.
    #[param(rename = "Idempotency-Key", min_length = 1, max_length = 255)]
    idempotency_key: Option<String>,
}

impl IdempotencyKey {
    fn of(headers: &HeaderMap) -> Result<Self, Problem> {
        let Some(key) = headers.get(HEADER) else {
            return Ok(Self {
                idempotency_key: None,
            });
        };
        match key.to_str() {
            Ok(k) if (1..=255).contains(&k.len()) => Ok(Self {
                idempotency_key: Some(k.to_string()),
            }),
            _ => Err(ServiceError::Invalid(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            )
            .into()),
        }
    }
}

pub async fn replay_or_record(
    State((state, declared)): State<(AppState, Declared)>,
    request: Request,
    next: Next,
) -> Response {
    let served = declared.serves(request.method(), request.extensions().get::<MatchedPath>());
    if matches!(*request.method(), Method::GET | Method::HEAD) || !served {
        return next.run(request).await;
    }
    let key = match IdempotencyKey::of(request.headers()) {
        Ok(IdempotencyKey {
            idempotency_key: Some(key),
        }) => key,
        Ok(_) => return next.run(request).await,
        Err(refused) => return refused.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let Ok(ApiCaller(actor)) = ApiCaller::from_request_parts(&mut parts, &state).await else {
        // The handler refuses the caller in its own words.
        return next.run(Request::from_parts(parts, body)).await;
    };
    parts.extensions.insert(Resolved(actor.clone()));
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Problem::from(grantor_core::params::InputError::TooLarge {
            limit: MAX_FORM_BYTES,
        })
        .into_response();
    };
    let caller = actor.audit_name();
    let request_id = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path(),
        secret::hash(&String::from_utf8_lossy(&body))
    );
    let once = OnceKey::new(&state, "idempotency", &caller, &key);
    match once.claim(&request_id).await {
        Err(e) => Problem::from(ServiceError::from(e)).into_response(),
        Ok(Claim::Answered {
            request,
            status,
            answer,
        }) if request == request_id => {
            // Authorized first: the retry is rehearsed, and only a rehearsal that would have
            // gone ahead gets the first answer.
            parts.extensions.insert(Rehearsal);
            let rehearsed = next.run(Request::from_parts(parts, Body::from(body))).await;
            if rehearsed.extensions().get::<RehearsalPassed>().is_some() {
                replay(status, answer)
            } else {
                rehearsed
            }
        }
        Ok(Claim::InProgress { request }) if request == request_id => problem(
            StatusCode::CONFLICT,
            "a request with this Idempotency-Key is still under way",
        ),
        Ok(Claim::Answered { .. } | Claim::InProgress { .. }) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was used for another request",
        ),
        Ok(Claim::First) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            record(&once, response).await
        }
    }
}

/// Keeps a successful answer for replay; forgets the key after a failure, so a retry acts.
async fn record(once: &OnceKey<'_>, response: Response) -> Response {
    if !response.status().is_success() {
        once.release().await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER_BYTES).await else {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer could not be kept",
        );
    };
    once.finish(parts.status.as_u16(), &bytes).await;
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: i64, answer: Option<Vec<u8>>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    match answer {
        Some(body) => {
            let mut response = (status, Bytes::from(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        None => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the first answer to this request cannot be read back",
        ),
    }
}
