//! Grants and what they issue: authorization codes and refresh tokens (each used once,
//! atomically), and the consents users gave apps.

use crate::pool::{Store, backend_error};
use crate::revocations::{GRANT_REVOCATION_TTL, Kind};
use crate::rows::{self, get, json_list, to_json};
use grantor_core::model::SignInMethod;
use grantor_core::store::{
    CodeRecord, ConsentRecord, ConsentStore, ConsentView, GrantRecord, GrantStore, RefreshRecord,
    SingleUse, StoreResult,
};
use sqlx::any::AnyRow;

const CODE_COLUMNS: &str = "code_hash, grant_id, client_id, user_id, org_id, redirect_uri, scopes, resources, \
     code_challenge, nonce, auth_time, expires_at, sign_in_method, dpop_jkt";

fn code(row: &AnyRow) -> StoreResult<CodeRecord> {
    Ok(CodeRecord {
        code_hash: get(row, "code_hash")?,
        grant_id: get(row, "grant_id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        org_id: get(row, "org_id")?,
        redirect_uri: get(row, "redirect_uri")?,
        scopes: rows::scopes(row, "scopes")?,
        resources: json_list(row, "resources")?,
        code_challenge: get(row, "code_challenge")?,
        nonce: get(row, "nonce")?,
        auth_time: get(row, "auth_time")?,
        method: SignInMethod::parse(&get::<String>(row, "sign_in_method")?),
        expires_at: get(row, "expires_at")?,
        dpop_jkt: get(row, "dpop_jkt")?,
    })
}

const REFRESH_COLUMNS: &str = "token_hash, grant_id, client_id, user_id, org_id, scopes, resources, auth_time, expires_at, \
     sign_in_method, dpop_jkt";

fn refresh(row: &AnyRow) -> StoreResult<RefreshRecord> {
    Ok(RefreshRecord {
        token_hash: get(row, "token_hash")?,
        grant_id: get(row, "grant_id")?,
        client_id: get(row, "client_id")?,
        user_id: get(row, "user_id")?,
        org_id: get(row, "org_id")?,
        scopes: rows::scopes(row, "scopes")?,
        resources: json_list(row, "resources")?,
        auth_time: get(row, "auth_time")?,
        method: SignInMethod::parse(&get::<String>(row, "sign_in_method")?),
        expires_at: get(row, "expires_at")?,
        dpop_jkt: get(row, "dpop_jkt")?,
    })
}

fn consent(row: &AnyRow) -> StoreResult<ConsentRecord> {
    Ok(ConsentRecord {
        user_id: get(row, "user_id")?,
        client_id: get(row, "client_id")?,
        org_id: get(row, "org_id")?,
        approved: rows::scopes(row, "approved_scopes")?,
        denied: rows::scopes(row, "denied_scopes")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// A table of single-use values: where the key is and which column marks the use.
struct SingleUseTable {
    table: &'static str,
    key: &'static str,
    used_at: &'static str,
    columns: &'static str,
}

const CODES: SingleUseTable = SingleUseTable {
    table: "authorization_codes",
    key: "code_hash",
    used_at: "consumed_at",
    columns: CODE_COLUMNS,
};
const REFRESH_TOKENS: SingleUseTable = SingleUseTable {
    table: "refresh_tokens",
    key: "token_hash",
    used_at: "rotated_at",
    columns: REFRESH_COLUMNS,
};

impl Store {
    /// Marks a single-use row used, atomically: the first caller gets the row; later callers
    /// learn its grant, so the family can be revoked.
    async fn use_once<T>(
        &self,
        t: &SingleUseTable,
        key: &str,
        now: i64,
        decode: fn(&AnyRow) -> StoreResult<T>,
    ) -> StoreResult<SingleUse<T>> {
        let fresh = sqlx::query(&format!(
            "UPDATE {} SET {used} = $2 WHERE {key_col} = $1 AND {used} IS NULL RETURNING {}",
            t.table,
            t.columns,
            used = t.used_at,
            key_col = t.key
        ))
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        if let Some(row) = fresh {
            return Ok(SingleUse::Fresh(decode(&row)?));
        }
        let grant_id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT grant_id FROM {} WHERE {} = $1",
            t.table, t.key
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(
            grant_id.map_or(SingleUse::Unknown, |grant_id| SingleUse::Reused {
                grant_id,
            }),
        )
    }
}

impl GrantStore for Store {
    async fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO grants (id, user_id, client_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&g.id)
            .bind(&g.user_id)
            .bind(&g.client_id)
            .bind(&g.org_id)
            .bind(g.created_at)
            .bind(g.expires_at)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool> {
        let revoked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT revoked_at FROM grants WHERE id = $1")
                .bind(grant_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
        // A grant that no longer exists (its app or user was deleted) counts as revoked.
        Ok(revoked.is_none_or(|at| at.is_some()))
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(grant_id)
        .bind(now);
        self.revoke_grants(query, now).await
    }

    async fn revoke_grants_of(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE grants SET revoked_at = $4 \
             WHERE user_id = $1 AND client_id = $2 AND org_id = $3 AND revoked_at IS NULL \
             RETURNING id",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(org_id)
        .bind(now);
        self.revoke_grants(query, now).await
    }

    async fn insert_code(&self, c: &CodeRecord) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO authorization_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"))
            .bind(&c.code_hash)
            .bind(&c.grant_id)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.org_id)
            .bind(&c.redirect_uri)
            .bind(c.scopes.to_string())
            .bind(to_json(&c.resources))
            .bind(&c.code_challenge)
            .bind(&c.nonce)
            .bind(c.auth_time)
            .bind(c.expires_at)
            .bind(c.method.as_str())
            .bind(&c.dpop_jkt)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn consume_code(&self, code_hash: &str, now: i64) -> StoreResult<SingleUse<CodeRecord>> {
        self.use_once(&CODES, code_hash, now, code).await
    }

    async fn insert_refresh_token(&self, t: &RefreshRecord) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO refresh_tokens ({REFRESH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            .bind(&t.token_hash)
            .bind(&t.grant_id)
            .bind(&t.client_id)
            .bind(&t.user_id)
            .bind(&t.org_id)
            .bind(t.scopes.to_string())
            .bind(to_json(&t.resources))
            .bind(t.auth_time)
            .bind(t.expires_at)
            .bind(t.method.as_str())
            .bind(&t.dpop_jkt)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<SingleUse<RefreshRecord>> {
        self.use_once(&REFRESH_TOKENS, token_hash, now, refresh)
            .await
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<(RefreshRecord, bool)>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLUMNS}, rotated_at FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| {
            Ok((
                refresh(&r)?,
                get::<Option<i64>>(&r, "rotated_at")?.is_some(),
            ))
        })
        .transpose()
    }
}

impl ConsentStore for Store {
    async fn consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> StoreResult<Option<ConsentRecord>> {
        let row = sqlx::query(
            "SELECT user_id, client_id, org_id, approved_scopes, denied_scopes, updated_at FROM consents \
             WHERE user_id = $1 AND client_id = $2 AND org_id = $3",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(consent).transpose()
    }

    async fn put_consent(&self, c: &ConsentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, org_id, approved_scopes, denied_scopes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, client_id, org_id) DO UPDATE SET \
             approved_scopes = excluded.approved_scopes, denied_scopes = excluded.denied_scopes, updated_at = excluded.updated_at",
        )
        .bind(&c.user_id)
        .bind(&c.client_id)
        .bind(&c.org_id)
        .bind(c.approved.to_string())
        .bind(c.denied.to_string())
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn consents_of_user(&self, user_id: &str) -> StoreResult<Vec<ConsentView>> {
        let rows = sqlx::query(
            "SELECT c.user_id, c.client_id, c.org_id, c.approved_scopes, c.denied_scopes, c.updated_at, \
             a.name AS app_name, o.name AS org_name FROM consents c \
             JOIN apps a ON a.client_id = c.client_id JOIN organizations o ON o.id = c.org_id \
             WHERE c.user_id = $1 ORDER BY a.name, o.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                Ok(ConsentView {
                    consent: consent(r)?,
                    app_name: get(r, "app_name")?,
                    org_name: get(r, "org_name")?,
                })
            })
            .collect()
    }

    async fn delete_consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2 AND org_id = $3")
            .bind(user_id)
            .bind(client_id)
            .bind(org_id)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

impl Store {
    /// Runs an `UPDATE grants ... RETURNING id` that revokes grants, and logs each revoked
    /// grant in the same transaction so every node stops honouring its access tokens.
    async fn revoke_grants<'q>(
        &self,
        update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let ids: Vec<String> = update
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_error)?
            .iter()
            .map(|row| get(row, "id"))
            .collect::<StoreResult<_>>()?;
        let expires_at = now + GRANT_REVOCATION_TTL;
        Store::log_revocations(&mut tx, Kind::Grant, &ids, expires_at).await?;
        tx.commit().await.map_err(backend_error)?;
        self.remember_revoked(Kind::Grant, &ids, expires_at);
        Ok(())
    }
}
