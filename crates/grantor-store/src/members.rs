//! Memberships, changed one organization at a time so that one owner always remains.

use crate::changes::Change;
use crate::pool::{Store, backend_error};
use crate::rows::{self, limit, offset};
use grantor_core::model::{AuditEvent, Membership, Role};
use grantor_core::store::{MemberStore, MembershipChange, StoreResult, Window};

const MEMBERSHIP_QUERY: &str = "SELECT m.org_id, o.name AS org_name, m.user_id, u.email, m.role \
     FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id";

impl Store {
    /// The one membership where `condition` (with `binds` as `$1`, `$2`...) holds.
    async fn one_membership(
        &self,
        condition: &str,
        binds: &[&str],
    ) -> StoreResult<Option<Membership>> {
        let sql = format!("{MEMBERSHIP_QUERY} WHERE {condition}");
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(rows::membership).transpose()
    }

    /// Starts a change to an organization's memberships, holding the organization's row: on
    /// PostgreSQL a row lock, on SQLite the database's write lock. Two changes to the same
    /// organization's members then run one after the other, and each sees the other's result
    /// before it decides whether an owner is left.
    /// Returns the transaction and whether `user_id` is an owner before the change.
    async fn begin_membership_change(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> StoreResult<(sqlx::Transaction<'static, sqlx::Any>, bool)> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
        Ok((tx, role.as_deref() == Some(Role::Owner.as_str())))
    }

    /// Commits a membership change unless it took the organization's last owner away (the
    /// transaction then rolls back when dropped).
    async fn commit_membership_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        org_id: &str,
        user_id: &str,
        was_owner: bool,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        // Only a change to an owner can leave none (an organization may start without one).
        if was_owner {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = $2",
            )
            .bind(org_id)
            .bind(Role::Owner.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            if owners == 0 {
                return Ok(MembershipChange::WouldLeaveNoOwner);
            }
        }
        let change = Change::Membership {
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
        };
        self.commit_change(tx, audit, &[change]).await?;
        Ok(MembershipChange::Changed)
    }
}

impl MemberStore for Store {
    async fn put_membership(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let (mut tx, was_owner) = self.begin_membership_change(org_id, user_id).await?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_membership_change(tx, org_id, user_id, was_owner, audit)
            .await
    }

    async fn delete_membership(
        &self,
        org_id: &str,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let (mut tx, was_owner) = self.begin_membership_change(org_id, user_id).await?;
        let deleted = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?
            .rows_affected();
        if deleted == 0 {
            return Ok(MembershipChange::NoSuchMember);
        }
        self.commit_membership_change(tx, org_id, user_id, was_owner, audit)
            .await
    }

    async fn memberships_of_user(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            // A disabled user acts nowhere: sign-in, refresh, the password grant and every
            // policy check read a user's memberships here.
            "{MEMBERSHIP_QUERY} WHERE m.user_id = $1 AND u.disabled_at IS NULL ORDER BY o.name"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::membership).collect()
    }

    async fn membership(&self, org_id: &str, user_id: &str) -> StoreResult<Option<Membership>> {
        self.one_membership(
            "m.org_id = $1 AND m.user_id = $2 AND u.disabled_at IS NULL",
            &[org_id, user_id],
        )
        .await
    }

    async fn member(&self, org_id: &str, user: &str) -> StoreResult<Option<Membership>> {
        let email = user.trim().to_lowercase();
        self.one_membership(
            "m.org_id = $1 AND (m.user_id = $2 OR u.email = $3)",
            &[org_id, user, &email],
        )
        .await
    }

    async fn members_of_org(&self, org_id: &str, window: Window) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "{MEMBERSHIP_QUERY} WHERE m.org_id = $1 ORDER BY u.email LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::membership).collect()
    }
}
