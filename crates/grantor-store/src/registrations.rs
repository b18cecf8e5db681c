//! Dynamic client registrations (RFC 7591, RFC 7592) and the organizations open to them. A
//! pending registration becomes an app in one transaction: the app's insert and the
//! registration's `UPDATE ... WHERE app_id IS NULL`, so two racing requests bind it once.

use crate::apps::insert_app;
use crate::changes::Change;
use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::model::{App, AuditEvent};
use grantor_core::store::{Binding, RegistrationRecord, RegistrationStore, StoreResult};

impl Store {
    /// How many dynamically registered apps organization `org_id` holds, inside `tx`.
    async fn registered_apps(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        org_id: &str,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM registrations r JOIN apps a ON a.client_id = r.app_id \
             WHERE a.org_id = $1",
        )
        .bind(org_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend_error)
    }
}

impl RegistrationStore for Store {
    async fn registration(
        &self,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<RegistrationRecord>> {
        let row = sqlx::query(
            "SELECT client_id, token_hash, metadata, app_id, created_at, expires_at \
             FROM registrations WHERE client_id = $1 AND (app_id IS NOT NULL OR expires_at > $2)",
        )
        .bind(client_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|row| {
            let app_id: Option<String> = get(&row, "app_id")?;
            Ok(RegistrationRecord {
                client_id: get(&row, "client_id")?,
                token_hash: get(&row, "token_hash")?,
                metadata: get(&row, "metadata")?,
                bound: app_id.is_some(),
                created_at: get(&row, "created_at")?,
                expires_at: get(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn insert_pending_registration(
        &self,
        r: &RegistrationRecord,
        max_pending: i64,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // The count and the insert are one statement; concurrent registrations may overshoot
        // the bound by a few, which is all it is for.
        let inserted = sqlx::query(
            "INSERT INTO registrations (client_id, token_hash, metadata, app_id, created_at, \
             expires_at) SELECT $1, $2, $3, NULL, $4, $5 WHERE (SELECT COUNT(*) FROM \
             registrations WHERE app_id IS NULL AND expires_at > $6) < $7",
        )
        .bind(&r.client_id)
        .bind(&r.token_hash)
        .bind(&r.metadata)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(now)
        .bind(max_pending)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        self.commit_audit_only(tx, audit).await?;
        Ok(true)
    }

    async fn update_pending_registration(
        &self,
        client_id: &str,
        metadata: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE registrations SET metadata = $2 \
             WHERE client_id = $1 AND app_id IS NULL AND expires_at > $3",
        )
        .bind(client_id)
        .bind(metadata)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn delete_pending_registration(&self, client_id: &str, now: i64) -> StoreResult<bool> {
        let deleted = sqlx::query(
            "DELETE FROM registrations WHERE client_id = $1 AND app_id IS NULL AND expires_at > $2",
        )
        .bind(client_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn bind_registration(
        &self,
        app: &App,
        now: i64,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> StoreResult<Binding> {
        let mut tx = self.begin().await?;
        if Self::registered_apps(&mut tx, &app.org_id).await? >= max_per_org {
            return Ok(Binding::Full);
        }
        insert_app(&mut tx, app).await?;
        let bound = sqlx::query(
            "UPDATE registrations SET app_id = $1 \
             WHERE client_id = $1 AND app_id IS NULL AND expires_at > $2",
        )
        .bind(&app.client_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        if bound == 0 {
            // Rolled back when dropped: the app goes too.
            return Ok(Binding::Gone);
        }
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await?;
        Ok(Binding::Bound)
    }

    async fn register_app(
        &self,
        app: &App,
        r: &RegistrationRecord,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> StoreResult<Binding> {
        let mut tx = self.begin().await?;
        if Self::registered_apps(&mut tx, &app.org_id).await? >= max_per_org {
            return Ok(Binding::Full);
        }
        insert_app(&mut tx, app).await?;
        sqlx::query(
            "INSERT INTO registrations (client_id, token_hash, metadata, app_id, created_at, \
             expires_at) VALUES ($1, $2, $3, $1, $4, $5)",
        )
        .bind(&r.client_id)
        .bind(&r.token_hash)
        .bind(&r.metadata)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await?;
        Ok(Binding::Bound)
    }

    async fn registration_ceiling(&self, org_id: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT scopes FROM registration_openings WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)
    }

    async fn any_registration_open(&self) -> StoreResult<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM registration_openings LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
        Ok(found.is_some())
    }

    async fn set_registration_ceiling(
        &self,
        org_id: &str,
        scopes: Option<&str>,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let statement = match scopes {
            Some(scopes) => sqlx::query(
                "INSERT INTO registration_openings (org_id, scopes, opened_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (org_id) DO UPDATE SET scopes = $2, opened_at = $3",
            )
            .bind(org_id)
            .bind(scopes)
            .bind(now),
            None => sqlx::query("DELETE FROM registration_openings WHERE org_id = $1").bind(org_id),
        };
        statement.execute(&mut *tx).await.map_err(backend_error)?;
        // Read from the database where used (the first authorization of a registration):
        // nothing cached to invalidate.
        self.commit_audit_only(tx, audit).await
    }
}
