//! Pushed authorization requests (RFC 9126): stored by the hash of their `request_uri`, used
//! once by one atomic `UPDATE ... WHERE consumed_at IS NULL RETURNING`.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::store::{PushedRequestRecord, PushedRequestStore, StoreResult};

impl PushedRequestStore for Store {
    async fn insert_pushed_request(
        &self,
        r: &PushedRequestRecord,
        max_live: i64,
        now: i64,
    ) -> StoreResult<bool> {
        // The count and the insert are one statement; concurrent pushes may overshoot the
        // bound by a few, which is all it is for.
        let inserted = sqlx::query(
            "INSERT INTO pushed_requests (request_uri_hash, client_id, params, created_at, \
             expires_at) SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM pushed_requests \
             WHERE client_id = $2 AND expires_at > $6 AND consumed_at IS NULL) < $7",
        )
        .bind(&r.request_uri_hash)
        .bind(&r.client_id)
        .bind(&r.params)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(now)
        .bind(max_live)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn consume_pushed_request(
        &self,
        request_uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        let row = sqlx::query(
            "UPDATE pushed_requests SET consumed_at = $3 \
             WHERE request_uri_hash = $1 AND client_id = $2 AND consumed_at IS NULL \
             AND expires_at > $3 \
             RETURNING request_uri_hash, client_id, params, created_at, expires_at",
        )
        .bind(request_uri_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|row| {
            Ok(PushedRequestRecord {
                request_uri_hash: get(&row, "request_uri_hash")?,
                client_id: get(&row, "client_id")?,
                params: get(&row, "params")?,
                created_at: get(&row, "created_at")?,
                expires_at: get(&row, "expires_at")?,
            })
        })
        .transpose()
    }
}
