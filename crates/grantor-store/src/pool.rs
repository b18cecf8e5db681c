//! The pools: which backend is in use, and how each is connected and tuned (with `migrate`,
//! the only code that branches on the backend).

use crate::cache::Cache;
use crate::changes::Change;
use crate::revocations::Revoked;
use grantor_core::StoreError;
use grantor_core::model::AuditEvent;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Cheap to clone: all clones share the pool and the cache.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) cache: Arc<Cache>,
    pub(crate) revoked: Arc<RwLock<Revoked>>,
    /// API tokens used since the last flush, and when (see `flush_api_token_use`).
    pub(crate) api_token_use: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
}

pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint violation to a conflict naming `what`.
pub(crate) fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => backend_error(e),
    }
}

/// Turns the configured database into a sqlx URL: `postgres://...` as is, a `sqlite:` URL
/// with `mode=rwc` unless it names a mode (so a missing file is created, as for a plain
/// path), anything else is a SQLite file path (created if missing).
pub fn database_url(configured: &str) -> (Backend, String) {
    if configured.starts_with("postgres://") || configured.starts_with("postgresql://") {
        (Backend::Postgres, configured.to_string())
    } else if configured.starts_with("sqlite:") {
        let url = match configured.split_once('?') {
            _ if configured.contains(":memory:") => configured.to_string(),
            Some((_, query)) if query.split('&').any(|p| p.starts_with("mode=")) => {
                configured.to_string()
            }
            Some(_) => format!("{configured}&mode=rwc"),
            None => format!("{configured}?mode=rwc"),
        };
        (Backend::Sqlite, url)
    } else {
        (Backend::Sqlite, format!("sqlite://{configured}?mode=rwc"))
    }
}

/// A pooled connection idle this long is pinged before it is used again.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How long that ping may take before the connection is given up and replaced.
const PING_DEADLINE: Duration = Duration::from_millis(500);

impl Store {
    /// Connects (creating a SQLite file on first use); does not migrate.
    pub async fn connect(configured: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = database_url(configured);
        let options = AnyConnectOptions::from_str(&url).map_err(backend_error)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(5))
            // No ping before each use: it adds a round trip to every query (without it,
            // refresh grants on PostgreSQL went from about 1,360 to 1,610 a second). A
            // connection that died while idle fails its one query, which answers 503
            // temporarily_unavailable, and is then replaced.
            .test_before_acquire(false)
            // But a connection left idle a while may have died silently: a partition that
            // ended with its state dropped by a firewall or NAT leaves pooled connections that
            // never answer again. Such a connection is pinged first, briefly, and replaced if
            // it does not answer, instead of holding a request until its timeout.
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < CHECK_IDLE_AFTER {
                        return Ok(true);
                    }
                    let answer = tokio::time::timeout(PING_DEADLINE, conn.ping()).await;
                    Ok(matches!(answer, Ok(Ok(()))))
                })
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during a write; the busy timeout makes a
                        // writer wait for another process (the CLI) instead of failing.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(backend_error)?;
        Ok(Self {
            pool,
            backend,
            cache: Arc::new(Cache::default()),
            revoked: Arc::default(),
            api_token_use: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many apps and unknown app IDs this node has cached.
    pub fn cached_clients(&self) -> (usize, usize) {
        self.cache.client_counts()
    }

    /// Runs pending migrations; safe when several nodes start at once.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        crate::migrate::run(self, i64::MAX).await
    }

    /// Runs pending migrations up to and including `version` only: to make a database of an
    /// earlier release, for upgrade tests.
    pub async fn migrate_to(&self, version: i64) -> Result<usize, StoreError> {
        crate::migrate::run(self, version).await
    }

    /// For readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.pool.begin().await.map_err(backend_error)
    }

    /// Writes an audit event inside `tx`.
    async fn insert_audit_event(
        tx: &mut Transaction<'static, Any>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, actor, action, target, org_id, source, outcome, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&audit.id)
        .bind(audit.at)
        .bind(&audit.actor)
        .bind(audit.action.as_str())
        .bind(&audit.target)
        .bind(&audit.org_id)
        .bind(&audit.source)
        .bind(audit.outcome.as_str())
        .bind(audit.details.to_string())
        .execute(&mut **tx)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    /// Commits an audit event that records no change (nothing to invalidate).
    pub(crate) async fn commit_audit_only(
        &self,
        mut tx: Transaction<'static, Any>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        Self::insert_audit_event(&mut tx, audit).await?;
        tx.commit().await.map_err(backend_error)
    }

    /// Commits a configuration change: its audit event and its entry in the change log
    /// naming what it touched, in the same transaction; then evicts those entries from this
    /// node's cache at once (other nodes follow on their poll).
    pub(crate) async fn commit_change(
        &self,
        mut tx: Transaction<'static, Any>,
        audit: &AuditEvent,
        changes: &[Change],
    ) -> Result<(), StoreError> {
        Self::insert_audit_event(&mut tx, audit).await?;
        let version = Self::log_changes(&mut tx, changes, audit.at).await?;
        tx.commit().await.map_err(backend_error)?;
        let keys = self.apply_changes(changes);
        self.cache.note_own_version(version, keys);
        Ok(())
    }

    /// Commits a change that touched `affected` rows; when it touched none, nothing changed
    /// and nothing is recorded (the transaction rolls back when dropped). Returns whether it
    /// committed.
    pub(crate) async fn commit_if_changed(
        &self,
        tx: Transaction<'static, Any>,
        affected: u64,
        audit: &AuditEvent,
        changes: &[Change],
    ) -> Result<bool, StoreError> {
        if affected == 0 {
            return Ok(false);
        }
        self.commit_change(tx, audit, changes).await?;
        Ok(true)
    }

    /// Catches up with what any node (or the CLI) changed since the last call: evicts the
    /// configuration it names from the cache, reads revocations made since and writes API
    /// tokens' last use. Returns whether signing keys may have changed, so callers reload
    /// them.
    pub async fn refresh_if_changed(&self) -> Result<bool, StoreError> {
        self.read_revocation_log().await?;
        self.flush_api_token_use().await?;
        self.read_change_log().await
    }

    /// Deletes what can no longer be used: revocation records, sessions, codes (and device
    /// codes) never exchanged, refresh tokens expired or of a revoked grant, grants (with their
    /// spent codes and refresh tokens) once nothing issued from them lives, old login failures
    /// and reset links a day past their expiry.
    /// A spent code is kept as long as its grant, so a late replay still revokes what it
    /// issued. Statements run in this order: a grant goes once its refresh tokens have.
    pub async fn purge_expired(&self, now: i64) -> Result<(), StoreError> {
        self.prune_revocations(now).await?;
        let statements = [
            "DELETE FROM sessions WHERE expires_at < $1",
            "DELETE FROM authorization_codes WHERE expires_at < $1 AND consumed_at IS NULL",
            "DELETE FROM device_codes WHERE expires_at < $1 AND consumed_at IS NULL",
            "DELETE FROM pushed_requests WHERE expires_at < $1",
            "DELETE FROM used_jtis WHERE expires_at < $1",
            "DELETE FROM registrations WHERE app_id IS NULL AND expires_at < $1",
            "DELETE FROM refresh_tokens WHERE expires_at < $1 \
             OR grant_id IN (SELECT id FROM grants WHERE revoked_at IS NOT NULL)",
            "DELETE FROM grants WHERE expires_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id)",
            "DELETE FROM login_failures WHERE last_failure_at < $1 - 86400",
            "DELETE FROM idempotency_keys WHERE created_at < $1 - 86400",
            "DELETE FROM invitations WHERE expires_at < $1 - 604800",
            "DELETE FROM password_resets WHERE expires_at < $1 - 86400",
            "DELETE FROM email_verifications WHERE expires_at < $1 - 86400",
            // A node a day behind the change log drops its whole cache instead.
            "DELETE FROM config_changes WHERE at < $1 - 86400",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, database_url};

    #[test]
    fn sqlite_urls_create_a_missing_file_unless_they_name_a_mode() {
        assert_eq!(
            database_url("sqlite:data/g.db"),
            (Backend::Sqlite, "sqlite:data/g.db?mode=rwc".into())
        );
        assert_eq!(
            database_url("sqlite:g.db?cache=shared").1,
            "sqlite:g.db?cache=shared&mode=rwc"
        );
        assert_eq!(database_url("sqlite:g.db?mode=ro").1, "sqlite:g.db?mode=ro");
        assert_eq!(database_url("g.db").1, "sqlite://g.db?mode=rwc");
    }
}
