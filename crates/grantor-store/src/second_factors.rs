//! Second factors (migration 0015): TOTP authenticators, their secrets sealed by the core,
//! and recovery codes by hash. Read directly, never cached: a code is checked once per
//! sign-in, and its replay memory must be exact on every node.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::model::AuditEvent;
use grantor_core::store::{SecondFactorStore, StoreResult, TotpRecord};
use sqlx::{Any, Transaction};

async fn insert_recovery_codes(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?;
    }
    Ok(())
}

impl SecondFactorStore for Store {
    async fn totp(&self, user_id: &str) -> StoreResult<Option<TotpRecord>> {
        let row = sqlx::query(
            "SELECT user_id, sealed_secret, created_at, confirmed_at, last_step \
             FROM totp_authenticators WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| {
            Ok(TotpRecord {
                user_id: get(&r, "user_id")?,
                sealed_secret: get(&r, "sealed_secret")?,
                created_at: get(&r, "created_at")?,
                confirmed_at: get(&r, "confirmed_at")?,
                last_step: get(&r, "last_step")?,
            })
        })
        .transpose()
    }

    async fn start_totp(&self, r: &TotpRecord) -> StoreResult<()> {
        // A confirmed authenticator is never replaced by a new set-up.
        sqlx::query(
            "INSERT INTO totp_authenticators \
             (user_id, sealed_secret, created_at, confirmed_at, last_step) \
             VALUES ($1, $2, $3, NULL, $4) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = $2, created_at = $3, \
             last_step = $4 WHERE totp_authenticators.confirmed_at IS NULL",
        )
        .bind(&r.user_id)
        .bind(&r.sealed_secret)
        .bind(r.created_at)
        .bind(r.last_step)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_hashes: &[String],
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let confirmed = sqlx::query(
            "UPDATE totp_authenticators SET confirmed_at = $2, last_step = $3 \
             WHERE user_id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(audit.at)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        if confirmed == 0 {
            return Ok(false);
        }
        insert_recovery_codes(&mut tx, user_id, recovery_hashes, audit.at).await?;
        self.commit_audit_only(tx, audit).await?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let moved = sqlx::query(
            "UPDATE totp_authenticators SET last_step = $2 \
             WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?
        .rows_affected();
        Ok(moved == 1)
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(code_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?
        .rows_affected();
        Ok(used == 1)
    }

    async fn recovery_codes_left(&self, user_id: &str) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_hashes: &[String],
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_recovery_codes(&mut tx, user_id, recovery_hashes, now).await?;
        self.commit_audit_only(tx, audit).await
    }

    async fn remove_totp(&self, user_id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM totp_authenticators WHERE user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        self.commit_audit_only(tx, audit).await
    }
}
