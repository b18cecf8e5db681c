//! The organization's audit log: newest first, filtered by actor, action, target and time,
//! paginated by an opaque cursor (the last event's time and id).

use super::{ApiCaller, OrgPath, Page};
use crate::AppState;
use crate::error::ApiErrors;
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
use utoipa::IntoParams;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

fn invalid(what: &str) -> Problem {
    ServiceError::Invalid(format!("{what} is not valid")).into()
}

/// What the audit log is filtered by, from a bounded query string.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilters {
    /// Who acted, as events name them (`user:...`, `app:...`, `operator`).
    actor: Option<String>,
    /// What was done, e.g. `app.create`.
    action: Option<String>,
    /// What it was done to: an app ID, a user id, ...
    target: Option<String>,
    /// Events at or after this time (unix seconds).
    since: Option<i64>,
    /// Events before this time (unix seconds).
    until: Option<i64>,
    /// How many events (1 to 200; 50 when absent).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// Where the previous page ended: its `next_cursor`.
    cursor: Option<String>,
}

impl AuditFilters {
    fn parse(query: &[u8]) -> Result<Self, Problem> {
        let params = Params::parse(query, MAX_QUERY_BYTES)?;
        let text = |name: &str| params.get(name).map(str::to_string);
        let number = |name: &str| -> Result<Option<i64>, Problem> {
            params
                .get(name)
                .map(|v| v.parse().map_err(|_| invalid(name)))
                .transpose()
        };
        Ok(Self {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            since: number("since")?,
            until: number("until")?,
            limit: number("limit")?,
            cursor: text("cursor"),
        })
    }

    fn into_query(self) -> Result<AuditQuery, Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ServiceError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")).into());
        }
        let before = self
            .cursor
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
        Ok(AuditQuery {
            actor: self.actor,
            action: self.action,
            target: self.target,
            since: self.since,
            until: self.until,
            before,
            // One more than asked, to learn whether there is a next page.
            limit: limit + 1,
        })
    }
}

/// The list request.
pub struct AuditListQuery(AuditQuery);

impl<S: Send + Sync> FromRequestParts<S> for AuditListQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let filters = AuditFilters::parse(parts.uri.query().unwrap_or_default().as_bytes())?;
        Ok(Self(filters.into_query()?))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit-events",
    tag = "audit",
    params(OrgPath, AuditFilters),
    responses((status = OK, description = "Newest first", body = Page<AuditEvent>), ApiErrors)
)]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
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
