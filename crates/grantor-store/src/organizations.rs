//! Organizations.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::{self, limit, offset};
use grantor_core::model::{AuditEvent, Organization};
use grantor_core::store::{OrganizationStore, StoreResult, Window};

impl OrganizationStore for Store {
    async fn create_organization(&self, org: &Organization, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, created_at, require_second_factor) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.created_at)
        .bind(i64::from(org.require_second_factor))
        .execute(&mut *tx)
        .await
        .map_err(conflict("an organization with this name"))?;
        self.commit_change(tx, audit, &[Change::Organization(org.id.clone())])
            .await
    }

    async fn organization(&self, id_or_name: &str) -> StoreResult<Option<Organization>> {
        let row = sqlx::query(
            "SELECT id, name, created_at, require_second_factor FROM organizations WHERE id = $1 OR name = $1",
        )
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::organization).transpose()
    }

    async fn set_require_second_factor(
        &self,
        org_id: &str,
        required: bool,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE organizations SET require_second_factor = $2 WHERE id = $1")
            .bind(org_id)
            .bind(i64::from(required))
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::Organization(org_id.to_string())])
            .await
    }

    async fn organizations(&self, window: Window) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, require_second_factor FROM organizations ORDER BY name LIMIT $1 OFFSET $2",
        )
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::organization).collect()
    }

    async fn organizations_of_user(
        &self,
        user_id: &str,
        window: Window,
    ) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at, o.require_second_factor FROM organizations o \
             JOIN memberships m ON m.org_id = o.id JOIN users u ON u.id = m.user_id \
             WHERE m.user_id = $1 AND u.disabled_at IS NULL ORDER BY o.name LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::organization).collect()
    }
}
