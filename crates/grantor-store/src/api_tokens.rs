//! Users' API tokens.

use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::revocations::{GRANT_REVOCATION_TTL, Kind};
use crate::rows::{flag, get, role, scopes};
use grantor_core::model::{ApiToken, AuditEvent};
use grantor_core::store::{ApiTokenHolder, ApiTokenStore, HolderStanding, StoreResult};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, org_id, name, scopes, token_hash, created_at, expires_at, last_used_at, revoked_at";

fn api_token(row: &AnyRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        scopes: scopes(row, "scopes")?,
        token_hash: get(row, "token_hash")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

impl Store {
    async fn api_token_where(&self, column: &str, value: &str) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(api_token).transpose()
    }
}

impl ApiTokenStore for Store {
    async fn create_api_token(&self, t: &ApiToken, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.org_id)
        .bind(&t.name)
        .bind(t.scopes.to_string())
        .bind(&t.token_hash)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.last_used_at)
        .bind(t.revoked_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("an API token with this id"))?;
        self.commit_change(tx, audit, &[Change::ApiToken(t.id.clone())])
            .await
    }

    async fn api_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(api_token).collect()
    }

    async fn api_token_holder(&self, token_hash: &str) -> StoreResult<Option<ApiTokenHolder>> {
        let row = sqlx::query(
            "SELECT t.*, u.id AS holder_id, u.platform_admin AS holder_platform_admin, \
             u.disabled_at AS holder_disabled_at, m.role AS holder_role \
             FROM api_tokens t \
             LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = match get::<Option<String>>(&row, "holder_id")? {
            None => None,
            Some(_) => Some(HolderStanding {
                disabled: get::<Option<i64>>(&row, "holder_disabled_at")?.is_some(),
                platform_admin: flag(&row, "holder_platform_admin")?,
                role: get::<Option<String>>(&row, "holder_role")?
                    .map(|r| role(&r))
                    .transpose()?,
            }),
        };
        Ok(Some(ApiTokenHolder {
            token: api_token(&row)?,
            user,
        }))
    }

    async fn api_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        self.api_token_where("id", id).await
    }

    async fn revoke_api_token(&self, id: &str, now: i64, audit: &AuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let revoked = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        // Access tokens exchanged for it carry its id as their grant.
        let ids = [id.to_string()];
        let expires_at = now + GRANT_REVOCATION_TTL;
        if revoked > 0 {
            Store::log_revocations(&mut tx, Kind::Grant, &ids, expires_at).await?;
        }
        let committed = self
            .commit_if_changed(tx, revoked, audit, &[Change::ApiToken(id.to_string())])
            .await?;
        if committed {
            self.remember_revoked(Kind::Grant, &ids, expires_at);
        }
        Ok(committed)
    }

    async fn touch_api_token(&self, id: &str, now: i64) -> StoreResult<()> {
        // Remembered here and written by `flush_api_token_use` on the node's poll: a script
        // exchanging its token in a loop must not cost a database write each time.
        let mut used = self.api_token_use.lock().unwrap_or_else(|p| p.into_inner());
        let last = used.entry(id.to_string()).or_insert(now);
        *last = (*last).max(now);
        Ok(())
    }
}

impl Store {
    /// Writes the last-use times gathered since the previous flush, one update per token. A
    /// time is forgotten only once written (unless the token was used again meanwhile), so a
    /// flush that fails or is abandoned midway (the poll's deadline) loses none: the next one
    /// writes what is left.
    pub async fn flush_api_token_use(&self) -> StoreResult<()> {
        let pending = || self.api_token_use.lock().unwrap_or_else(|p| p.into_inner());
        let used: Vec<(String, i64)> = pending().iter().map(|(id, at)| (id.clone(), *at)).collect();
        for (id, at) in used {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 \
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(&id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
            let mut pending = pending();
            if pending.get(&id) == Some(&at) {
                pending.remove(&id);
            }
        }
        Ok(())
    }
}
