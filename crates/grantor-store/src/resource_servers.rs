//! Resource servers and their scopes.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::get;
use grantor_core::model::{AuditEvent, ResourceServer, ScopeDefinition};
use grantor_core::store::{ResourceServerStore, StoreResult};
use std::collections::HashMap;

impl Store {
    /// The resource servers `filter` (a condition on `r`, with `$1`) selects, with their
    /// scopes: two queries, joined in memory by id.
    pub(crate) async fn resource_servers_where(
        &self,
        filter: &str,
        value: &str,
    ) -> StoreResult<Vec<ResourceServer>> {
        let servers = sqlx::query(&format!(
            "SELECT r.id, r.org_id, r.identifier, r.name, r.created_at FROM resource_servers r \
             WHERE {filter} ORDER BY r.identifier"
        ))
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let scope_rows = sqlx::query(&format!(
            "SELECT s.resource_id, s.name, s.description FROM resource_scopes s \
             JOIN resource_servers r ON r.id = s.resource_id WHERE {filter} ORDER BY s.name"
        ))
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut scopes: HashMap<String, Vec<ScopeDefinition>> = HashMap::new();
        for s in &scope_rows {
            scopes
                .entry(get(s, "resource_id")?)
                .or_default()
                .push(ScopeDefinition {
                    name: get(s, "name")?,
                    description: get(s, "description")?,
                });
        }
        servers
            .iter()
            .map(|row| {
                let id: String = get(row, "id")?;
                Ok(ResourceServer {
                    scopes: scopes.remove(&id).unwrap_or_default(),
                    id,
                    org_id: get(row, "org_id")?,
                    identifier: get(row, "identifier")?,
                    name: get(row, "name")?,
                    created_at: get(row, "created_at")?,
                })
            })
            .collect()
    }
}

fn resource_change(rs: &ResourceServer) -> Change {
    Change::ResourceServer {
        org_id: rs.org_id.clone(),
        identifier: rs.identifier.clone(),
    }
}

/// Writes a resource server's scopes inside its change's transaction.
async fn insert_scopes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rs: &ResourceServer,
) -> StoreResult<()> {
    for s in &rs.scopes {
        sqlx::query(
            "INSERT INTO resource_scopes (resource_id, name, description) VALUES ($1, $2, $3)",
        )
        .bind(&rs.id)
        .bind(&s.name)
        .bind(&s.description)
        .execute(&mut **tx)
        .await
        .map_err(conflict("a scope with this name"))?;
    }
    Ok(())
}

impl ResourceServerStore for Store {
    async fn create_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO resource_servers (id, org_id, identifier, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&rs.id)
            .bind(&rs.org_id)
            .bind(&rs.identifier)
            .bind(&rs.name)
            .bind(rs.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict("a resource server with this identifier"))?;
        insert_scopes(&mut tx, rs).await?;
        self.commit_change(tx, audit, &[resource_change(rs)]).await
    }

    async fn update_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE resource_servers SET name = $2 WHERE id = $1")
            .bind(&rs.id)
            .bind(&rs.name)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        sqlx::query("DELETE FROM resource_scopes WHERE resource_id = $1")
            .bind(&rs.id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        insert_scopes(&mut tx, rs).await?;
        self.commit_change(tx, audit, &[resource_change(rs)]).await
    }

    async fn delete_resource_server(&self, id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Its scopes go with it (ON DELETE CASCADE).
        let deleted =
            sqlx::query("DELETE FROM resource_servers WHERE id = $1 RETURNING org_id, identifier")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
        let Some(row) = deleted else {
            return Ok(());
        };
        let change = Change::ResourceServer {
            org_id: get(&row, "org_id")?,
            identifier: get(&row, "identifier")?,
        };
        self.commit_change(tx, audit, &[change]).await
    }

    async fn resource_servers(&self, org_id: &str) -> StoreResult<Vec<ResourceServer>> {
        self.resource_servers_where("r.org_id = $1", org_id).await
    }

    async fn scope_declared(&self, scope: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM resource_scopes WHERE name = $1 LIMIT 1")
                .bind(scope)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
        Ok(found.is_some())
    }
}
