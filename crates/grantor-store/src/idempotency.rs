//! Idempotency keys of management API writes.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::store::{IdempotencyClaim, IdempotencyStore, StoreResult};

impl IdempotencyStore for Store {
    async fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request: &str,
        now: i64,
    ) -> StoreResult<IdempotencyClaim> {
        // A key released by a failed first attempt between our insert and our read is
        // claimable again: try again, a few times, rather than fail on the missing row.
        for _ in 0..3 {
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (caller, idempotency_key, request, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (caller, idempotency_key) DO NOTHING",
            )
            .bind(caller)
            .bind(key)
            .bind(request)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?
            .rows_affected();
            if claimed == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            let row = sqlx::query(
                "SELECT request, status, response_sealed FROM idempotency_keys \
                 WHERE caller = $1 AND idempotency_key = $2",
            )
            .bind(caller)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
            let Some(row) = row else { continue };
            let request: String = get(&row, "request")?;
            let status: Option<i64> = get(&row, "status")?;
            let sealed: Option<String> = get(&row, "response_sealed")?;
            return Ok(match (status, sealed) {
                (Some(status), Some(response_sealed)) => IdempotencyClaim::Answered {
                    request,
                    status,
                    response_sealed,
                },
                _ => IdempotencyClaim::InProgress { request },
            });
        }
        // Claimed and released by others each time: as busy as a request in progress.
        Ok(IdempotencyClaim::InProgress {
            request: request.to_string(),
        })
    }

    async fn record_idempotent_answer(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        response_sealed: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, response_sealed = $4 \
             WHERE caller = $1 AND idempotency_key = $2",
        )
        .bind(caller)
        .bind(key)
        .bind(status)
        .bind(response_sealed)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn release_idempotency_key(&self, caller: &str, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2")
            .bind(caller)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
