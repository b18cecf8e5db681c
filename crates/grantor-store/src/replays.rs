//! One-time proofs (migration 0018): a `jti` is taken by one atomic insert; a row whose time
//! is up may be taken again, and the purge deletes it.

use crate::pool::{Store, backend_error};
use grantor_core::store::{ReplayStore, StoreResult};

impl ReplayStore for Store {
    async fn first_use(
        &self,
        scope: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let taken = sqlx::query(
            "INSERT INTO used_jtis (scope, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_jtis.expires_at < $4",
        )
        .bind(scope)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(taken.rows_affected() == 1)
    }
}
