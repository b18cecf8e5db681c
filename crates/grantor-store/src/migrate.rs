//! A small migration runner over embedded SQL, shared by both backends. Concurrent starts are
//! serialised by a PostgreSQL advisory lock, or by SQLite's write lock (`BEGIN IMMEDIATE`).

use crate::pool::{Backend, Store, backend_error};
use grantor_core::StoreError;
use sqlx::Executor;

const MIGRATIONS: [(i64, &str, &str); 23] = [
    (
        1,
        "foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (2, "sign_in", include_str!("../migrations/0002_sign_in.sql")),
    (
        3,
        "one_next_key",
        include_str!("../migrations/0003_one_next_key.sql"),
    ),
    (
        4,
        "api_tokens",
        include_str!("../migrations/0004_api_tokens.sql"),
    ),
    (
        5,
        "idempotency_keys",
        include_str!("../migrations/0005_idempotency_keys.sql"),
    ),
    (
        6,
        "disabled_users",
        include_str!("../migrations/0006_disabled_users.sql"),
    ),
    (
        7,
        "revocation_log",
        include_str!("../migrations/0007_revocation_log.sql"),
    ),
    (
        8,
        "invitations",
        include_str!("../migrations/0008_invitations.sql"),
    ),
    (
        9,
        "grant_expiry",
        include_str!("../migrations/0009_grant_expiry.sql"),
    ),
    (
        10,
        "audit_retention",
        include_str!("../migrations/0010_audit_retention.sql"),
    ),
    (
        11,
        "tenant_isolation",
        include_str!("../migrations/0011_tenant_isolation.sql"),
    ),
    (
        12,
        "change_log",
        include_str!("../migrations/0012_change_log.sql"),
    ),
    (
        13,
        "password_resets",
        include_str!("../migrations/0013_password_resets.sql"),
    ),
    (
        14,
        "device_codes",
        include_str!("../migrations/0014_device_codes.sql"),
    ),
    (15, "totp", include_str!("../migrations/0015_totp.sql")),
    (
        16,
        "pushed_requests",
        include_str!("../migrations/0016_pushed_requests.sql"),
    ),
    (
        17,
        "session_details",
        include_str!("../migrations/0017_session_details.sql"),
    ),
    (
        18,
        "used_jtis",
        include_str!("../migrations/0018_used_jtis.sql"),
    ),
    (
        19,
        "dpop_bindings",
        include_str!("../migrations/0019_dpop_bindings.sql"),
    ),
    (
        20,
        "app_keys",
        include_str!("../migrations/0020_app_keys.sql"),
    ),
    (
        21,
        "registrations",
        include_str!("../migrations/0021_registrations.sql"),
    ),
    (
        22,
        "accounts",
        include_str!("../migrations/0022_accounts.sql"),
    ),
    (
        23,
        "passkeys",
        include_str!("../migrations/0023_passkeys.sql"),
    ),
];

/// Arbitrary but fixed: the advisory lock all Grantor nodes take while migrating.
const LOCK_KEY: i64 = 0x0067_7261_6e74_6f72; // "grantor" in ASCII

/// Applies pending migrations up to and including `last`.
pub async fn run(store: &Store, last: i64) -> Result<usize, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(backend_error)?;
    match store.backend {
        Backend::Postgres => {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *conn)
                .await
                .map_err(backend_error)?;
        }
        Backend::Sqlite => {
            conn.execute("BEGIN IMMEDIATE")
                .await
                .map_err(backend_error)?;
        }
    }
    let result = apply(store.backend, &mut conn, last).await;
    let release = match store.backend {
        Backend::Postgres => sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map(|_| ()),
        Backend::Sqlite if result.is_ok() => conn.execute("COMMIT").await.map(|_| ()),
        Backend::Sqlite => conn.execute("ROLLBACK").await.map(|_| ()),
    };
    let applied = result?;
    release.map_err(backend_error)?;
    Ok(applied)
}

async fn apply(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    last: i64,
) -> Result<usize, StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS grantor_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(backend_error)?;
    let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM grantor_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(backend_error)?;
    let now = grantor_core::Clock::now(&grantor_core::SystemClock);
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS {
        if done.contains(&version) || version > last {
            continue;
        }
        // PostgreSQL runs each migration in its own transaction; SQLite is already inside
        // the BEGIN IMMEDIATE that holds the lock.
        if backend == Backend::Postgres {
            conn.execute("BEGIN").await.map_err(backend_error)?;
        }
        let step = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            sqlx::query(
                "INSERT INTO grantor_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(now)
            .execute(&mut *conn)
            .await
        }
        .await;
        if backend == Backend::Postgres {
            conn.execute(if step.is_ok() { "COMMIT" } else { "ROLLBACK" })
                .await
                .map_err(backend_error)?;
        }
        step.map_err(|e| StoreError::Backend(format!("migration {version} ({name}): {e}")))?;
        applied += 1;
    }
    Ok(applied)
}
