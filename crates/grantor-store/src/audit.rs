//! Reading the audit log, newest first, with keyset pagination; and forgetting what is older
//! than the retention period, when one is set.

use crate::pool::{Store, backend_error};
use crate::rows::{self, get};
use grantor_core::StoreError;
use grantor_core::model::{AuditAction, AuditEvent, AuditOutcome};
use grantor_core::store::{AuditLog, AuditQuery, StoreResult};

impl AuditLog for Store {
    async fn append_audit_event(&self, e: &AuditEvent) -> StoreResult<()> {
        let tx = self.begin().await?;
        self.commit_audit_only(tx, e).await
    }

    async fn audit_events(&self, org_id: &str, q: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let (before_at, before_id) = match &q.before {
            Some(p) => (Some(p.at), Some(p.id.as_str())),
            None => (None, None),
        };
        // Newest first. Ids grow in the order events are written (`secret::ordered_id`), so
        // events of the same second keep that order.
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, org_id, source, outcome, details FROM audit_events \
             WHERE org_id = $1 AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
             AND ($4 IS NULL OR target = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at <= $6) \
             AND ($7 IS NULL OR at < $7 OR (at = $7 AND id < $8)) \
             ORDER BY at DESC, id DESC LIMIT $9",
        )
        .bind(org_id)
        .bind(&q.actor)
        .bind(&q.action)
        .bind(&q.target)
        .bind(q.since)
        .bind(q.until)
        .bind(before_at)
        .bind(before_id)
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let details: String = get(r, "details")?;
                Ok(AuditEvent {
                    id: get(r, "id")?,
                    at: get(r, "at")?,
                    actor: get(r, "actor")?,
                    action: rows::named(r, "action", AuditAction::parse)?,
                    target: get(r, "target")?,
                    org_id: get(r, "org_id")?,
                    source: get(r, "source")?,
                    outcome: rows::named(r, "outcome", AuditOutcome::parse)?,
                    // Events written before details were structured kept free text.
                    details: serde_json::from_str(&details)
                        .unwrap_or_else(|_| serde_json::json!({ "text": details })),
                })
            })
            .collect()
    }
}

impl Store {
    /// Deletes the audit events of every organization recorded before `before` (Unix time);
    /// returns how many.
    pub async fn purge_audit_events(&self, before: i64) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(backend_error)
    }
}
