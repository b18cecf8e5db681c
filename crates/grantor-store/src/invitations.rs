//! Invitations to join an organization.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::get;
use crate::users::insert_user;
use grantor_core::StoreError;
use grantor_core::model::{AuditEvent, Invitation, User};
use grantor_core::store::{InvitationStore, StoreResult};
use sqlx::any::AnyRow;

const COLUMNS: &str =
    "id, org_id, email, role, token_hash, created_by, created_at, expires_at, accepted_at, mailed";

fn invitation(row: &AnyRow) -> StoreResult<Invitation> {
    let role: String = get(row, "role")?;
    Ok(Invitation {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        email: get(row, "email")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Backend(format!("stored role {role:?} is not valid")))?,
        token_hash: get(row, "token_hash")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        accepted_at: get(row, "accepted_at")?,
        mailed: crate::rows::flag(row, "mailed")?,
    })
}

impl InvitationStore for Store {
    async fn create_invitation(&self, i: &Invitation, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO invitations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&i.id)
        .bind(&i.org_id)
        .bind(&i.email)
        .bind(i.role.as_str())
        .bind(&i.token_hash)
        .bind(&i.created_by)
        .bind(i.created_at)
        .bind(i.expires_at)
        .bind(i.accepted_at)
        .bind(i64::from(i.mailed))
        .execute(&mut *tx)
        .await
        .map_err(conflict("an invitation with this id"))?;
        self.commit_change(tx, audit, &[Change::Invitation(i.id.clone())])
            .await
    }

    async fn invitation_by_hash(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(invitation).transpose()
    }

    async fn pending_invitations(&self, org_id: &str) -> StoreResult<Vec<Invitation>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE org_id = $1 AND accepted_at IS NULL \
             ORDER BY created_at DESC, id"
        ))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(invitation).collect()
    }

    async fn accept_invitation(
        &self,
        i: &Invitation,
        user_id: &str,
        new_user: Option<&User>,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // Single use even when two browsers submit at once: only one UPDATE finds it open.
        let used = sqlx::query(
            "UPDATE invitations SET accepted_at = $2 \
             WHERE id = $1 AND accepted_at IS NULL AND expires_at > $2",
        )
        .bind(&i.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        if used == 0 {
            return Ok(false);
        }
        if let Some(user) = new_user {
            insert_user(&mut tx, user).await?;
        } else if i.mailed {
            // The link reached this address: the invited account's email is proven.
            sqlx::query(
                "UPDATE users SET email_verified_at = $3 \
                 WHERE id = $1 AND email = $2 AND email_verified_at IS NULL",
            )
            .bind(user_id)
            .bind(&i.email)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        }
        // An invitation never demotes: a current member keeps the role they have.
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(&i.org_id)
        .bind(user_id)
        .bind(i.role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        let mut changes = vec![
            Change::Invitation(i.id.clone()),
            Change::Membership {
                org_id: i.org_id.clone(),
                user_id: user_id.to_string(),
            },
        ];
        if new_user.is_some() || i.mailed {
            changes.push(Change::User(user_id.to_string()));
        }
        self.commit_change(tx, audit, &changes).await?;
        Ok(true)
    }

    async fn delete_invitation(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM invitations WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL",
        )
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        self.commit_if_changed(tx, deleted, audit, &[Change::Invitation(id.to_string())])
            .await
    }
}
