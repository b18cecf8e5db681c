//! Sign-in sessions (by the hash of their cookie) and the throttling of failed sign-ins.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::model::SignInMethod;
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

impl SessionStore for Store {
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (id_hash, user_id, auth_time, expires_at, sign_in_method) VALUES ($1, $2, $3, $4, $5)")
            .bind(&s.id_hash)
            .bind(&s.user_id)
            .bind(s.auth_time)
            .bind(s.expires_at)
            .bind(s.method.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT id_hash, user_id, auth_time, expires_at, sign_in_method FROM sessions \
             WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.map(|r| {
            Ok(SessionRecord {
                id_hash: get(&r, "id_hash")?,
                user_id: get(&r, "user_id")?,
                auth_time: get(&r, "auth_time")?,
                method: SignInMethod::parse(&get::<String>(&r, "sign_in_method")?),
                expires_at: get(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
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
