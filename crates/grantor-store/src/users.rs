//! User accounts.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::{self, USER_COLUMNS};
use crate::sessions::delete_sessions_of_user;
use grantor_core::model::{AuditEvent, User};
use grantor_core::store::{StoreResult, UserStore};

/// Inserts a user inside `tx`: by the CLI and API, and when an invitation makes one.
pub(crate) async fn insert_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: &User,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.name)
    .bind(&user.password_hash)
    .bind(i64::from(user.platform_admin))
    .bind(user.created_at)
    .bind(user.disabled_at)
    .bind(user.email_verified_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict("a user with this email"))?;
    Ok(())
}

impl UserStore for Store {
    async fn create_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_user(&mut tx, user).await?;
        self.commit_change(tx, audit, &[Change::User(user.id.clone())])
            .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        delete_sessions_of_user(&mut tx, user_id, keep_session).await?;
        // A reset link sent before the change would undo it.
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::User(user_id.to_string())])
            .await
    }

    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(disabled_at)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        // Signed out everywhere, in the same transaction: a browser already signed in must not
        // keep the console or the authorization endpoint.
        if disabled_at.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        self.commit_change(tx, audit, &[Change::User(user_id.to_string())])
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(rows::user).transpose()
    }
}
