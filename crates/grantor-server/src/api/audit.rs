//! The organization's audit log: newest first, filtered by actor, action, target and time,
//! paginated by an opaque cursor (the last event's time and id).

use super::{ApiCaller, Page};
use crate::AppState;
use crate::error::Problem;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::ServiceError;
use grantor_core::model::AuditEvent;
use grantor_core::params::{MAX_QUERY_BYTES, Params};
use grantor_core::store::AuditQuery;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

fn invalid(what: &str) -> Problem {
    ServiceError::Invalid(format!("{what} is not valid")).into()
}

fn number(params: &Params, name: &str) -> Result<Option<i64>, Problem> {
    params
        .get(name)
        .map(|v| v.parse().map_err(|_| invalid(name)))
        .transpose()
}

/// The list request, from a bounded query string.
pub struct AuditListQuery(AuditQuery);

impl<S: Send + Sync> FromRequestParts<S> for AuditListQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let params = Params::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
            MAX_QUERY_BYTES,
        )?;
        let limit = number(&params, "limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ServiceError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")).into());
        }
        let before = params
            .get("cursor")
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| {
                        let (at, id) = s.split_once(':')?;
                        Some((at.parse().ok()?, id.to_string()))
                    })
                    .ok_or_else(|| invalid("cursor"))
            })
            .transpose()?;
        let text = |name: &str| params.get(name).map(str::to_string);
        Ok(Self(AuditQuery {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            since: number(&params, "since")?,
            until: number(&params, "until")?,
            before,
            // One more than asked, to learn whether there is a next page.
            limit: limit + 1,
        }))
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
    AuditListQuery(query): AuditListQuery,
) -> Result<Json<Page<AuditEvent>>, Problem> {
    let mut items = state.manager.audit_events(&actor, &org, &query).await?;
    let asked = usize::try_from(query.limit - 1).unwrap_or(0);
    let more = items.len() > asked;
    items.truncate(asked);
    let next_cursor = match items.last() {
        Some(last) if more => Some(URL_SAFE_NO_PAD.encode(format!("{}:{}", last.at, last.id))),
        _ => None,
    };
    Ok(Json(Page { items, next_cursor }))
}
