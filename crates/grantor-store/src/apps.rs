//! Apps.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::{self, APP_COLUMNS, limit, offset, to_json};
use grantor_core::model::{App, AuditEvent};
use grantor_core::store::{AppStore, StoreResult, Window};

impl AppStore for Store {
    async fn create_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_app(&mut tx, app).await?;
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await
    }

    async fn delete_app(&self, client_id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Codes and refresh tokens name the app without a foreign key; grants, consents and
        // organization access go with the app (ON DELETE CASCADE).
        for sql in [
            "DELETE FROM authorization_codes WHERE client_id = $1",
            "DELETE FROM refresh_tokens WHERE client_id = $1",
            "DELETE FROM apps WHERE client_id = $1",
        ] {
            sqlx::query(sql)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        self.commit_change(tx, audit, &[Change::App(client_id.to_string())])
            .await
    }

    async fn update_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let (jwks, jwks_uri) = rows::key_columns(app.keys.as_ref());
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE apps SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, \
             scopes = $5, access_token_ttl = $6, jwks = $7, jwks_uri = $8, require_par = $9 \
             WHERE client_id = $1",
        )
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(to_json(&app.redirect_uris))
        .bind(to_json(&app.post_logout_redirect_uris))
        .bind(app.scopes.to_string())
        .bind(app.access_token_ttl)
        .bind(jwks)
        .bind(jwks_uri)
        .bind(i64::from(app.require_par))
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await
    }

    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::app).transpose()
    }

    async fn apps(&self, org_id: &str, window: Window) -> StoreResult<Vec<App>> {
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE org_id = $1 ORDER BY name, client_id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::app).collect()
    }

    async fn set_app_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_hash: Option<&str>,
        previous_expires_at: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE apps SET secret_hash = $2, previous_secret_hash = $3, previous_secret_expires_at = $4 WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(secret_hash)
        .bind(previous_hash)
        .bind(previous_expires_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(client_id.to_string())])
            .await
    }
}

/// Inserts `app` inside `tx`: app creation and a dynamic registration's binding share it.
pub(crate) async fn insert_app(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &App,
) -> StoreResult<()> {
    let (jwks, jwks_uri) = rows::key_columns(app.keys.as_ref());
    sqlx::query(&format!(
            "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .bind(&app.client_id)
        .bind(&app.org_id)
        .bind(&app.name)
        .bind(app.app_type.as_str())
        .bind(&app.secret_hash)
        .bind(&app.previous_secret_hash)
        .bind(app.previous_secret_expires_at)
        .bind(to_json(&app.redirect_uris))
        .bind(to_json(&app.post_logout_redirect_uris))
        .bind(app.scopes.to_string())
        .bind(i64::from(app.allow_password))
        .bind(i64::from(app.allow_implicit))
        .bind(app.access_token_ttl)
        .bind(app.created_at)
        .bind(i64::from(app.allow_device_code))
        .bind(jwks)
        .bind(jwks_uri)
        .bind(i64::from(app.require_par))
        .execute(&mut **tx)
        .await
        .map_err(conflict("an app with this id"))?;
    Ok(())
}
