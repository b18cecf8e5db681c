//! The audit log.

use super::StoreResult;
use crate::model::AuditEvent;
use std::future::Future;

/// Which audit events to list: all filters optional; newest first, `before` the last one
/// seen, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<AuditPosition>,
    pub limit: i64,
}

/// Where a page of the audit log ended: its last event's time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPosition {
    pub at: i64,
    pub id: String,
}

impl AuditPosition {
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            at: event.at,
            id: event.id.clone(),
        }
    }

    /// As cursors carry it: `at:id`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.at, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once(':')?;
        Some(Self {
            at: at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// The audit log: appended to with every change (each write takes its event), read here.
pub trait AuditLog: Send + Sync {
    /// Records an event that changed nothing: a refused attempt.
    fn append_audit_event(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn audit_events(
        &self,
        org_id: &str,
        query: &AuditQuery,
    ) -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
}
