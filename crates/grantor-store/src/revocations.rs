use crate::pool::{Store, backend_error};
use grantor_core::store::{RevocationStore, StoreResult};

impl RevocationStore for Store {
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn is_access_token_revoked(
        &self,
        jti: &str,
        grant_id: Option<&str>,
    ) -> StoreResult<bool> {
        let revoked: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1) + \
             (CASE WHEN $2 IS NULL THEN 0 \
                   WHEN EXISTS (SELECT 1 FROM grants WHERE id = $2 AND revoked_at IS NULL) THEN 0 \
                   WHEN EXISTS (SELECT 1 FROM api_tokens WHERE id = $2 AND revoked_at IS NULL) THEN 0 \
                   ELSE 1 END)",
        )
        .bind(jti)
        .bind(grant_id)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(revoked > 0)
    }
}
