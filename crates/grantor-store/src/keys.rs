use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::get;
use grantor_core::StoreError;
use grantor_core::model::AuditEvent;
use grantor_core::store::{KeyState, KeyStore, StoreResult, StoredKey};

impl KeyStore for Store {
    async fn keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, alg, state, private_sealed, public_jwk, created_at, activate_at, remove_at FROM signing_keys ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|row| {
                let alg: String = get(row, "alg")?;
                let state: String = get(row, "state")?;
                let jwk: String = get(row, "public_jwk")?;
                Ok(StoredKey {
                    kid: get(row, "kid")?,
                    alg: alg.parse().map_err(|_| {
                        StoreError::Backend(format!("stored key algorithm {alg:?}"))
                    })?,
                    state: KeyState::parse(&state).ok_or_else(|| {
                        StoreError::Backend(format!("stored key state {state:?}"))
                    })?,
                    private_sealed: get(row, "private_sealed")?,
                    public_jwk: serde_json::from_str(&jwk)
                        .map_err(|e| StoreError::Backend(format!("stored JWK: {e}")))?,
                    created_at: get(row, "created_at")?,
                    activate_at: get(row, "activate_at")?,
                    remove_at: get(row, "remove_at")?,
                })
            })
            .collect()
    }

    async fn insert_key(&self, key: &StoredKey, audit: &AuditEvent) -> StoreResult<()> {
        let jwk = serde_json::to_string(&key.public_jwk)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, state, private_sealed, public_jwk, created_at, activate_at, remove_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(key.state.as_str())
        .bind(&key.private_sealed)
        .bind(jwk)
        .bind(key.created_at)
        .bind(key.activate_at)
        .bind(key.remove_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("a next signing key for this algorithm"))?;
        self.commit_change(tx, audit, &[Change::Key(key.kid.clone())])
            .await
    }

    async fn update_key(
        &self,
        kid: &str,
        state: KeyState,
        remove_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE signing_keys SET state = $2, remove_at = $3 WHERE kid = $1")
            .bind(kid)
            .bind(state.as_str())
            .bind(remove_at)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::Key(kid.to_string())])
            .await
    }

    async fn delete_key(&self, kid: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::Key(kid.to_string())])
            .await
    }
}
