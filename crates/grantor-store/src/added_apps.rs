//! Apps added to organizations (organization access grants).

use crate::changes::Change;
use crate::pool::{Store, backend_error};
use crate::rows::{self, get, limit, offset};
use grantor_core::model::{AuditEvent, OrgAccessGrant};
use grantor_core::store::{AddedAppStore, StoreResult, Window};

const GRANT_QUERY: &str = "SELECT g.org_id, o.name AS org_name, g.client_id, g.scopes, g.created_at \
     FROM org_access_grants g JOIN organizations o ON o.id = g.org_id";

fn org_grant(row: &sqlx::any::AnyRow) -> StoreResult<OrgAccessGrant> {
    Ok(OrgAccessGrant {
        org_id: get(row, "org_id")?,
        org_name: get(row, "org_name")?,
        client_id: get(row, "client_id")?,
        scopes: rows::scopes(row, "scopes")?,
        created_at: get(row, "created_at")?,
    })
}

impl AddedAppStore for Store {
    async fn put_org_grant(&self, grant: &OrgAccessGrant, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO org_access_grants (org_id, client_id, scopes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, client_id) DO UPDATE SET scopes = excluded.scopes",
        )
        .bind(&grant.org_id)
        .bind(&grant.client_id)
        .bind(grant.scopes.to_string())
        .bind(grant.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(grant.client_id.clone())])
            .await
    }

    async fn delete_org_grant(
        &self,
        org_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM org_access_grants WHERE org_id = $1 AND client_id = $2")
                .bind(org_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
        self.commit_if_changed(tx, deleted, audit, &[Change::App(client_id.to_string())])
            .await
    }

    async fn org_grants(&self, client_id: &str) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.client_id = $1 ORDER BY o.name"
        ))
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }

    async fn org_grants_of_apps(
        &self,
        org_id: &str,
        window: Window,
    ) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.client_id IN (SELECT client_id FROM apps WHERE org_id = $1 \
             ORDER BY name, client_id LIMIT $2 OFFSET $3) ORDER BY o.name"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }

    async fn org_grants_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.org_id = $1 ORDER BY g.created_at, g.client_id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }
}
