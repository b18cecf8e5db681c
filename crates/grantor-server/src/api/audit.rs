//! The organization's audit log: newest first, filtered by actor, action, target and time,
//! paginated by an opaque cursor (the last event's place in the log).

use super::wire::{self, AuditEvent};
use super::{ApiCaller, OrgPath, Page, cursor_param, limit_param, number_param};
use crate::AppState;
use crate::error::ApiErrors;
use crate::error::Problem;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::FieldErrors;
use grantor_core::params::{MAX_QUERY_BYTES, Params};
use grantor_core::store::{AuditPosition, AuditQuery};
use utoipa::IntoParams;

const DEFAULT_LIMIT: i64 = 50;
/// What `since` and `until` must be.
const UNIX_TIME: &str = "a time in unix seconds";

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

/// Where an audit cursor points: the last event of a page.
fn position(cursor: &str) -> Option<AuditPosition> {
    AuditPosition::decode(&super::cursor_text(cursor)?)
}

impl AuditFilters {
    /// Reads the query string; every parameter that is not valid is reported, by name.
    fn parse(query: &[u8]) -> Result<Self, Problem> {
        let params = Params::parse(query, MAX_QUERY_BYTES)?;
        let text = |name: &str| params.get(name).map(str::to_string);
        let mut invalid = FieldErrors::default();
        let any = |_: &i64| true;
        let since = number_param(&params, &mut invalid, "since", any, UNIX_TIME);
        let until = number_param(&params, &mut invalid, "until", any, UNIX_TIME);
        let limit = limit_param(&params, &mut invalid);
        let cursor = cursor_param(&params, &mut invalid, position);
        invalid.finish()?;
        Ok(Self {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            since,
            until,
            limit,
            cursor,
        })
    }

    fn into_query(self) -> AuditQuery {
        AuditQuery {
            actor: self.actor,
            action: self.action,
            target: self.target,
            since: self.since,
            until: self.until,
            before: self.cursor.as_deref().and_then(position),
            // One more than asked, to learn whether there is a next page.
            limit: self.limit.unwrap_or(DEFAULT_LIMIT) + 1,
        }
    }
}

/// The list request.
pub struct AuditListQuery(AuditQuery);

impl<S: Send + Sync> FromRequestParts<S> for AuditListQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let filters = AuditFilters::parse(parts.uri.query().unwrap_or_default().as_bytes())?;
        Ok(Self(filters.into_query()))
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
        Some(last) if more => Some(URL_SAFE_NO_PAD.encode(AuditPosition::of(last).encode())),
        _ => None,
    };
    Ok(Json(Page {
        items: wire::all(items),
        next_cursor,
    }))
}
