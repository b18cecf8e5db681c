//! Password-reset links (migration 0013), by the hash of their token.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::get;
use crate::sessions::delete_sessions_of_user;
use grantor_core::model::AuditEvent;
use grantor_core::store::{PasswordReset, PasswordResetStore, StoreResult};

impl PasswordResetStore for Store {
    async fn create_password_reset(
        &self,
        r: &PasswordReset,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.token_hash)
        .bind(&r.user_id)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(r.used_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("a reset link with this token"))?;
        self.commit_audit_only(tx, audit).await
    }

    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, created_at, expires_at, used_at FROM password_resets \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| {
            Ok(PasswordReset {
                token_hash: get(&r, "token_hash")?,
                user_id: get(&r, "user_id")?,
                created_at: get(&r, "created_at")?,
                expires_at: get(&r, "expires_at")?,
                used_at: get(&r, "used_at")?,
            })
        })
        .transpose()
    }

    async fn use_password_reset(
        &self,
        r: &PasswordReset,
        password_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if !use_link(
            &mut tx,
            LinkTable::PasswordResets,
            &r.token_hash,
            &r.user_id,
            now,
        )
        .await?
        {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(&r.user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        delete_sessions_of_user(&mut tx, &r.user_id, None).await?;
        self.commit_change(tx, audit, &[Change::User(r.user_id.clone())])
            .await?;
        Ok(true)
    }
}

/// The tables of single-use links mailed to a user.
#[derive(Clone, Copy)]
pub(crate) enum LinkTable {
    PasswordResets,
    EmailVerifications,
}

/// Uses the link `token_hash` of `user_id` inside `tx`, if it is open at `now`, and closes
/// the user's other open links of the same kind (sent before it). Single use even when two
/// browsers submit at once: only one UPDATE finds it open.
pub(crate) async fn use_link(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: LinkTable,
    token_hash: &str,
    user_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let (use_it, close_others) = match table {
        LinkTable::PasswordResets => (
            "UPDATE password_resets SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        ),
        LinkTable::EmailVerifications => (
            "UPDATE email_verifications SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            "UPDATE email_verifications SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        ),
    };
    let used = sqlx::query(use_it)
        .bind(token_hash)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
    if used == 0 {
        return Ok(false);
    }
    sqlx::query(close_others)
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?;
    Ok(true)
}
