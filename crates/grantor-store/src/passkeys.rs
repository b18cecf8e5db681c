//! Passkeys (migration 0023). Read directly, never cached: a signature count must be exact on
//! every node, and a removed passkey must stop working at once.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::model::AuditEvent;
use grantor_core::store::{PasskeyAdded, PasskeyRecord, PasskeyStore, StoreResult};
use sqlx::any::AnyRow;

const COLUMNS: &str =
    "id, user_id, credential_id, public_key, alg, sign_count, name, created_at, last_used_at";

fn passkey(r: &AnyRow) -> StoreResult<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: get(r, "id")?,
        user_id: get(r, "user_id")?,
        credential_id: get(r, "credential_id")?,
        public_key: get(r, "public_key")?,
        alg: get(r, "alg")?,
        sign_count: get(r, "sign_count")?,
        name: get(r, "name")?,
        created_at: get(r, "created_at")?,
        last_used_at: get(r, "last_used_at")?,
    })
}

impl PasskeyStore for Store {
    async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let sql =
            format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter().map(passkey).collect()
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
        let row = sqlx::query(&sql)
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(passkey).transpose()
    }

    async fn add_passkey(
        &self,
        r: &PasskeyRecord,
        max: i64,
        audit: &AuditEvent,
    ) -> StoreResult<PasskeyAdded> {
        let mut tx = self.begin().await?;
        let known: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE credential_id = $1")
                .bind(&r.credential_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
        if known > 0 {
            return Ok(PasskeyAdded::Duplicate);
        }
        // The count and the insert in one statement: a user at the limit adds nothing.
        let added = sqlx::query(
            "INSERT INTO passkeys \
             (id, user_id, credential_id, public_key, alg, sign_count, name, created_at, last_used_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, NULL \
             WHERE (SELECT COUNT(*) FROM passkeys WHERE user_id = $2) < $9",
        )
        .bind(&r.id)
        .bind(&r.user_id)
        .bind(&r.credential_id)
        .bind(&r.public_key)
        .bind(r.alg)
        .bind(r.sign_count)
        .bind(&r.name)
        .bind(r.created_at)
        .bind(max)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        if added == 0 {
            return Ok(PasskeyAdded::AtLimit);
        }
        self.commit_audit_only(tx, audit).await?;
        Ok(PasskeyAdded::Added)
    }

    async fn use_passkey(
        &self,
        id: &str,
        previous: i64,
        sign_count: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let moved = sqlx::query(
            "UPDATE passkeys SET sign_count = $3, last_used_at = $4 \
             WHERE id = $1 AND sign_count = $2 AND ($3 > $2 OR ($3 = 0 AND $2 = 0))",
        )
        .bind(id)
        .bind(previous)
        .bind(sign_count)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?
        .rows_affected();
        Ok(moved == 1)
    }

    async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let removed = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?
            .rows_affected();
        if removed == 0 {
            return Ok(false);
        }
        self.commit_audit_only(tx, audit).await?;
        Ok(true)
    }
}
