//! The audit log (owners): newest first, filtered by actor, action and object, a page at a
//! time. The next page starts before the last event shown (its time and id), so events
//! written meanwhile do not shift what comes next.

use super::frame::{Console, Nav};
use super::view::{LIST_MAX, when};
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::render;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::store::{AuditPosition, AuditQuery, Window};

const PAGE_SIZE: usize = 25;

pub struct EventRow {
    pub at: String,
    /// As the log names the actor (what the filter takes) and, for members, their email.
    pub actor: String,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub source: String,
    pub details: String,
}

impl EventRow {
    /// The day of `at` (`2026-11-20`), to keep whole on a line of its own if need be.
    pub fn day(&self) -> &str {
        self.at
            .split_once(' ')
            .map_or(self.at.as_str(), |(day, _)| day)
    }

    /// The time of `at` (`18:40 UTC`).
    pub fn time(&self) -> &str {
        self.at.split_once(' ').map_or("", |(_, time)| time)
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub events: Vec<EventRow>,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// The query string of the next page, when there is one.
    pub next: Option<String>,
    /// Whether this is a later page (offer the way back to the newest).
    pub later: bool,
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    // Members by the name the log gives them, so people read emails, not ids.
    let members = state
        .manager
        .members(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?;
    let email_of = |actor: &str| {
        members
            .iter()
            .find(|m| actor.strip_prefix("user:") == Some(m.user_id.as_str()))
            .map(|m| m.email.clone())
    };
    let filter = |name: &str| {
        query
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    // A member's email is a filter for what they did.
    let actor = filter("actor").map(|a| {
        members
            .iter()
            .find(|m| m.email == a.to_lowercase())
            .map_or(a, |m| format!("user:{}", m.user_id))
    });
    let before = query.get("before").and_then(AuditPosition::decode);
    let later = before.is_some();
    let wanted = AuditQuery {
        actor,
        action: filter("action"),
        target: filter("target"),
        since: None,
        until: None,
        before,
        // One more than shown, to learn whether there is a next page.
        limit: PAGE_SIZE as i64 + 1,
    };
    let mut events = state
        .manager
        .audit_events(&c.caller, &c.nav.org_id, &wanted)
        .await?;
    let more = events.len() > PAGE_SIZE;
    events.truncate(PAGE_SIZE);
    let next = match events.last() {
        Some(last) if more => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in [
                ("actor", &wanted.actor),
                ("action", &wanted.action),
                ("target", &wanted.target),
            ] {
                if let Some(v) = value {
                    q.append_pair(name, v);
                }
            }
            q.append_pair("before", &AuditPosition::of(last).encode());
            Some(q.finish())
        }
        _ => None,
    };
    let page = AuditPage {
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: when(e.at),
                actor_email: email_of(&e.actor),
                actor: e.actor,
                action: e.action.to_string(),
                target: e.target,
                outcome: e.outcome.to_string(),
                source: e.source.unwrap_or_default(),
                details: details_text(&e.details),
            })
            .collect(),
        actor: filter("actor").unwrap_or_default(),
        action: wanted.action.unwrap_or_default(),
        target: wanted.target.unwrap_or_default(),
        next,
        later,
        nav: c.nav,
    };
    Ok(render(StatusCode::OK, &page))
}

/// An event's details as the page shows them: `name: value` pairs, strings unquoted.
fn details_text(details: &serde_json::Value) -> String {
    match details {
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}: {text}"),
                other => format!("{name}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
