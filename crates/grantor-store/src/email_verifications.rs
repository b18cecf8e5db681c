//! Email verification links (migration 0022), by the hash of their token.

use crate::changes::Change;
use crate::password_resets::{LinkTable, use_link};
use crate::pool::{Store, backend_error, conflict};
use crate::rows::get;
use grantor_core::model::AuditEvent;
use grantor_core::store::{EmailVerification, EmailVerificationStore, StoreResult};

impl EmailVerificationStore for Store {
    async fn create_email_verification(
        &self,
        l: &EmailVerification,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO email_verifications \
             (token_hash, user_id, email, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&l.token_hash)
        .bind(&l.user_id)
        .bind(&l.email)
        .bind(l.created_at)
        .bind(l.expires_at)
        .bind(l.used_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("a verification link with this token"))?;
        self.commit_audit_only(tx, audit).await
    }

    async fn email_verification(&self, token_hash: &str) -> StoreResult<Option<EmailVerification>> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, email, created_at, expires_at, used_at \
             FROM email_verifications WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| {
            Ok(EmailVerification {
                token_hash: get(&r, "token_hash")?,
                user_id: get(&r, "user_id")?,
                email: get(&r, "email")?,
                created_at: get(&r, "created_at")?,
                expires_at: get(&r, "expires_at")?,
                used_at: get(&r, "used_at")?,
            })
        })
        .transpose()
    }

    async fn use_email_verification(
        &self,
        l: &EmailVerification,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let table = LinkTable::EmailVerifications;
        if !use_link(&mut tx, table, &l.token_hash, &l.user_id, now).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET email_verified_at = $3 WHERE id = $1 AND email = $2")
            .bind(&l.user_id)
            .bind(&l.email)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::User(l.user_id.clone())])
            .await?;
        Ok(true)
    }

    async fn set_email_verified(
        &self,
        user_id: &str,
        verified_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET email_verified_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(verified_at)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::User(user_id.to_string())])
            .await
    }
}
