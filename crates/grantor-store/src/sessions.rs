//! Sign-in sessions (by the hash of their cookie) and the throttling of failed sign-ins.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::model::{AuditEvent, SignInMethod};
use grantor_core::store::{SessionRecord, SessionStore, StoreResult, ThrottleStore};

/// Ends every session of `user_id` but `except` (a session's hash) inside `tx`: a new
/// password signs out whoever knew the old one.
pub(crate) async fn delete_sessions_of_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
    except: Option<&str>,
) -> StoreResult<u64> {
    let deleted = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        // No session hash is empty, so without an exception every session goes.
        .bind(except.unwrap_or_default())
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?;
    Ok(deleted.rows_affected())
}

const COLUMNS: &str = "id_hash, user_id, auth_time, expires_at, sign_in_method, handle, \
                       user_agent, address, last_seen_at";

fn record(r: &sqlx::any::AnyRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id_hash: get(r, "id_hash")?,
        user_id: get(r, "user_id")?,
        auth_time: get(r, "auth_time")?,
        method: SignInMethod::parse(&get::<String>(r, "sign_in_method")?),
        expires_at: get(r, "expires_at")?,
        handle: get(r, "handle")?,
        user_agent: get(r, "user_agent")?,
        address: get(r, "address")?,
        last_seen_at: get(r, "last_seen_at")?,
    })
}

impl SessionStore for Store {
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at, sign_in_method, \
             handle, user_agent, address, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&s.id_hash)
        .bind(&s.user_id)
        .bind(s.auth_time)
        .bind(s.expires_at)
        .bind(s.method.as_str())
        .bind(&s.handle)
        .bind(&s.user_agent)
        .bind(&s.address)
        .bind(s.last_seen_at)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE id_hash = $1"
        ))
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(record).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn sessions_of_user(
        &self,
        user_id: &str,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY auth_time DESC, handle DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(record).collect()
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        handle: Option<&str>,
        keep: &str,
        audit: &AuditEvent,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // The user id is in the condition, so another user's handle matches nothing.
        let ended = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2 AND ($3 = '' OR handle = $3)",
        )
        .bind(user_id)
        .bind(keep)
        .bind(handle.unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?
        .rows_affected();
        self.commit_if_changed(tx, ended, audit, &[]).await?;
        Ok(ended)
    }
}

impl ThrottleStore for Store {
    async fn failures(&self, key: &str) -> StoreResult<Option<(i64, i64)>> {
        let row = sqlx::query(
            "SELECT failures, last_failure_at FROM login_failures WHERE throttle_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| Ok((get(&r, "failures")?, get(&r, "last_failure_at")?)))
            .transpose()
    }

    async fn count_attempt(
        &self,
        key: &str,
        seen: Option<(i64, i64)>,
        now: i64,
        window: i64,
    ) -> StoreResult<bool> {
        let counted = match seen {
            None => sqlx::query(
                "INSERT INTO login_failures (throttle_key, failures, last_failure_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (throttle_key) DO NOTHING",
            )
            .bind(key)
            .bind(now)
            .execute(&self.pool)
            .await,
            Some((failures, last)) => sqlx::query(
                "UPDATE login_failures SET \
                 failures = CASE WHEN last_failure_at < $4 THEN 1 ELSE failures + 1 END, \
                 last_failure_at = $5 \
                 WHERE throttle_key = $1 AND failures = $2 AND last_failure_at = $3",
            )
            .bind(key)
            .bind(failures)
            .bind(last)
            .bind(now - window)
            .bind(now)
            .execute(&self.pool)
            .await,
        };
        Ok(counted.map_err(backend_error)?.rows_affected() == 1)
    }

    async fn refund_attempt(&self, key: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_failures SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0",
        )
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn record_failure(&self, key: &str, now: i64, window: i64) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO login_failures (throttle_key, failures, last_failure_at) VALUES ($1, 1, $2) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure_at < $3 THEN 1 ELSE login_failures.failures + 1 END, \
             last_failure_at = $2 RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(now - window)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
