//! Revocations: an ordered log in the database (migration 0007), mirrored in every node's
//! memory so that checking a token costs no database read. A revoking node applies its own
//! entries at once; the others read the log on their configuration poll, a fraction of a
//! second later.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::store::{RevocationStore, StoreResult};
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use std::sync::RwLock;

/// How long a revoked grant or API token is remembered: the longest an access token it
/// issued can live.
pub const GRANT_REVOCATION_TTL: i64 = grantor_core::provider::MAX_ACCESS_TOKEN_TTL;

/// Log entries read per query while catching up.
const BATCH: i64 = 10_000;

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    AccessToken,
    /// A grant (an authorization and its refresh tokens) or an API token: both are the
    /// `grant_id` of the access tokens they issued.
    Grant,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::Grant => "grant",
        }
    }
}

/// This node's copy of the log: what is revoked, each until it cannot matter any more.
#[derive(Default)]
pub(crate) struct Revoked {
    /// The last log entry read.
    seq: i64,
    access_tokens: HashMap<String, i64>,
    grants: HashMap<String, i64>,
}

impl Revoked {
    fn insert(&mut self, kind: Kind, id: &str, expires_at: i64) {
        let map = match kind {
            Kind::AccessToken => &mut self.access_tokens,
            Kind::Grant => &mut self.grants,
        };
        map.insert(id.to_string(), expires_at);
    }

    fn prune(&mut self, now: i64) {
        self.access_tokens
            .retain(|_, expires_at| *expires_at >= now);
        self.grants.retain(|_, expires_at| *expires_at >= now);
    }

    pub(crate) fn len(&self) -> usize {
        self.access_tokens.len() + self.grants.len()
    }
}

fn read(lock: &RwLock<Revoked>) -> std::sync::RwLockReadGuard<'_, Revoked> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write(lock: &RwLock<Revoked>) -> std::sync::RwLockWriteGuard<'_, Revoked> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Appends revocations to the log inside the revoking transaction. Call
    /// [`Store::remember_revoked`] after the commit, so this node knows at once.
    pub(crate) async fn log_revocations(
        tx: &mut Transaction<'static, Any>,
        kind: Kind,
        ids: &[String],
        expires_at: i64,
    ) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        let last: i64 = sqlx::query_scalar(
            "UPDATE revocation_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq",
        )
        .bind(count)
        .fetch_one(&mut **tx)
        .await
        .map_err(backend_error)?;
        for (seq, id) in (last - count + 1..).zip(ids) {
            sqlx::query(
                "INSERT INTO revocations (seq, kind, id, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(seq)
            .bind(kind.as_str())
            .bind(id)
            .bind(expires_at)
            .execute(&mut **tx)
            .await
            .map_err(backend_error)?;
        }
        Ok(())
    }

    pub(crate) fn remember_revoked(&self, kind: Kind, ids: &[String], expires_at: i64) {
        let mut revoked = write(&self.revoked);
        for id in ids {
            revoked.insert(kind, id, expires_at);
        }
    }

    /// Reads the log entries this node has not seen yet.
    pub(crate) async fn read_revocation_log(&self) -> StoreResult<()> {
        loop {
            let after = read(&self.revoked).seq;
            let rows = sqlx::query(
                "SELECT seq, kind, id, expires_at FROM revocations WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
            let mut revoked = write(&self.revoked);
            for row in &rows {
                let seq: i64 = get(row, "seq")?;
                // Another reader may have got here first.
                if seq <= revoked.seq {
                    continue;
                }
                let kind: String = get(row, "kind")?;
                let kind = if kind == Kind::AccessToken.as_str() {
                    Kind::AccessToken
                } else {
                    Kind::Grant
                };
                let id: String = get(row, "id")?;
                revoked.insert(kind, &id, get(row, "expires_at")?);
                revoked.seq = seq;
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < BATCH {
                return Ok(());
            }
        }
    }

    /// Forgets revocations that can no longer matter, here and in the database.
    pub(crate) async fn prune_revocations(&self, now: i64) -> StoreResult<()> {
        write(&self.revoked).prune(now);
        sqlx::query("DELETE FROM revocations WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    /// How many revocations this node holds in memory, for metrics.
    pub fn revocations_held(&self) -> usize {
        read(&self.revoked).len()
    }
}

impl RevocationStore for Store {
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        // Revoking a revoked token again (anyone holding it may) adds nothing to the log.
        if read(&self.revoked).access_tokens.contains_key(jti) {
            return Ok(());
        }
        let ids = [jti.to_string()];
        let mut tx = self.begin().await?;
        Self::log_revocations(&mut tx, Kind::AccessToken, &ids, expires_at).await?;
        tx.commit().await.map_err(backend_error)?;
        self.remember_revoked(Kind::AccessToken, &ids, expires_at);
        Ok(())
    }

    async fn is_access_token_revoked(
        &self,
        jti: &str,
        grant_id: Option<&str>,
    ) -> StoreResult<bool> {
        let revoked = read(&self.revoked);
        Ok(revoked.access_tokens.contains_key(jti)
            || grant_id.is_some_and(|g| revoked.grants.contains_key(g)))
    }
}
