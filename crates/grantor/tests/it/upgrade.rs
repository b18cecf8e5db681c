//! Upgrades: a database made by the previous release (schema up to migration 5), holding data
//! in every table, migrates to the current schema and everything issued before still works.

use crate::both_backends;
use crate::support::db::TestDatabase;
use crate::support::oauth::{self, kid};
use crate::support::{PASSWORD, TEST_KEK, TestServer, WEB_REDIRECT, server_app, user_app};
use grantor_core::jose::KeyEncryptionKey;
use grantor_core::model::{AppType, Caller, ScopeDefinition};
use grantor_core::{Clock, SystemClock, keyring, password, secret};
use grantor_store::pool::Store;
use serde_json::Value;
use std::sync::Arc;

both_backends!(a_database_of_the_previous_release_upgrades_and_keeps_working);

/// The last migration of the previous release.
const PREVIOUS_RELEASE: i64 = 5;

async fn a_database_of_the_previous_release_upgrades_and_keeps_working(
    backend: crate::support::Backend,
) {
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate_to(PREVIOUS_RELEASE).await.unwrap();
    let now = SystemClock.now();
    // Today's write paths also name each change in the change log (migration 12) and write
    // an app's device grant flag (migration 14), keys and "require PAR" (migration 20) and an
    // organization's second-factor rule (migration 22); the tables they otherwise write are as the
    // previous release had them. A stand-in log and column let them run, and are dropped
    // before the new release migrates.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(&db.url).1)
        .await
        .unwrap();
    for stand_in in [
        "CREATE TABLE config_changes (version BIGINT, kind TEXT, id TEXT, at BIGINT)",
        "ALTER TABLE apps ADD COLUMN allow_device_code BIGINT NOT NULL DEFAULT 0",
        // An app's keys and "require PAR" (migration 20).
        "ALTER TABLE apps ADD COLUMN jwks TEXT",
        "ALTER TABLE apps ADD COLUMN jwks_uri TEXT",
        "ALTER TABLE apps ADD COLUMN require_par BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE organizations ADD COLUMN require_second_factor BIGINT NOT NULL DEFAULT 0",
    ] {
        sqlx::query(stand_in).execute(&pool).await.unwrap();
    }

    // Configuration, written through the code paths whose tables did not change since.
    let manager = grantor_core::manage::Manager::new(
        store.clone(),
        Arc::new(SystemClock),
        "http://127.0.0.1:8080",
    );
    let op = Caller::operator();
    let org = manager.create_organization(&op, "acme").await.unwrap();
    manager
        .create_resource_server(
            &op,
            "acme",
            "https://api.example.com",
            "API",
            vec![ScopeDefinition {
                name: "trades:read".into(),
                description: "Read".into(),
            }],
        )
        .await
        .unwrap();
    let server = manager
        .create_app(&op, "acme", server_app("bot", &["trades:read"]))
        .await
        .unwrap();
    manager
        .add_app_to_organization(
            &op,
            &server.app.client_id,
            "acme",
            vec!["trades:read".into()],
        )
        .await
        .unwrap();
    let web = user_app(AppType::Web, "portal", WEB_REDIRECT, &[]).scopes(["openid", "trades:read"]);
    let web = manager.create_app(&op, "acme", web).await.unwrap();
    let kek = KeyEncryptionKey::parse(TEST_KEK).unwrap();
    keyring::ensure_active_keys(&store, &kek, &SystemClock)
        .await
        .unwrap();
    let old_kids: Vec<String> = grantor_core::store::KeyStore::keys(&store)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();

    // Users, sign-in state and issued credentials, as the previous release stored them.
    let refresh_token = secret::generate(secret::Kind::RefreshToken).unwrap();
    let revoked_refresh_token = secret::generate(secret::Kind::RefreshToken).unwrap();
    let api_token = secret::generate(secret::Kind::ApiToken).unwrap();
    let revoked_api_token = secret::generate(secret::Kind::ApiToken).unwrap();
    let hash = password::hash(PASSWORD).unwrap();
    let web_id = web.app.client_id.as_str();
    let rows: Vec<(&str, Vec<Value>)> = vec![
        (
            "INSERT INTO users (id, email, name, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, $4, 0, $5)",
            vec![
                "usr_1".into(),
                "ann@acme.example".into(),
                "Ann".into(),
                hash.into(),
                now.into(),
            ],
        ),
        (
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, 'usr_1', 'developer', $2)",
            vec![org.id.clone().into(), now.into()],
        ),
        (
            "INSERT INTO grants (id, user_id, client_id, org_id, created_at, revoked_at) VALUES ('grt_live', 'usr_1', $1, $2, $3, NULL), ('grt_gone', 'usr_1', $1, $2, $3, $3)",
            vec![web_id.into(), org.id.clone().into(), now.into()],
        ),
        (
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, user_id, org_id, scopes, resources, auth_time, expires_at, rotated_at) VALUES ($1, 'grt_live', $3, 'usr_1', $4, 'openid trades:read', '[]', $5, $5 + 86400, NULL), ($2, 'grt_gone', $3, 'usr_1', $4, 'openid trades:read', '[]', $5, $5 + 86400, NULL)",
            vec![
                secret::hash(&refresh_token).into(),
                secret::hash(&revoked_refresh_token).into(),
                web_id.into(),
                org.id.clone().into(),
                now.into(),
            ],
        ),
        (
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, org_id, redirect_uri, scopes, resources, code_challenge, nonce, auth_time, expires_at, consumed_at) VALUES ('code', 'grt_live', $1, 'usr_1', $2, $3, 'openid', '[]', NULL, NULL, $4, $4 + 60, $4)",
            vec![
                web_id.into(),
                org.id.clone().into(),
                WEB_REDIRECT.into(),
                now.into(),
            ],
        ),
        (
            "INSERT INTO consents (user_id, client_id, org_id, approved_scopes, denied_scopes, updated_at) VALUES ('usr_1', $1, $2, 'openid trades:read', '', $3)",
            vec![web_id.into(), org.id.clone().into(), now.into()],
        ),
        (
            "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at) VALUES ('session', 'usr_1', $1, $1 + 3600)",
            vec![now.into()],
        ),
        (
            "INSERT INTO login_failures (throttle_key, failures, last_failure_at) VALUES ('ip:192.0.2.1', 2, $1)",
            vec![now.into()],
        ),
        (
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ('at_revoked', $1 + 900)",
            vec![now.into()],
        ),
        (
            "INSERT INTO api_tokens (id, user_id, org_id, name, scopes, token_hash, created_at, expires_at, last_used_at, revoked_at) VALUES ('tok_live', 'usr_1', $1, 'script', 'trades:read', $2, $4, $4 + 86400, NULL, NULL), ('tok_gone', 'usr_1', $1, 'old', 'trades:read', $3, $4, $4 + 86400, NULL, $4)",
            vec![
                org.id.clone().into(),
                secret::hash(&api_token).into(),
                secret::hash(&revoked_api_token).into(),
                now.into(),
            ],
        ),
        (
            "INSERT INTO idempotency_keys (caller, idempotency_key, request, created_at) VALUES ('operator', 'k', 'r', $1)",
            vec![now.into()],
        ),
    ];
    for stand_in in [
        "DROP TABLE config_changes",
        "ALTER TABLE apps DROP COLUMN allow_device_code",
        "ALTER TABLE apps DROP COLUMN jwks",
        "ALTER TABLE apps DROP COLUMN jwks_uri",
        "ALTER TABLE apps DROP COLUMN require_par",
        "ALTER TABLE organizations DROP COLUMN require_second_factor",
    ] {
        sqlx::query(stand_in).execute(&pool).await.unwrap();
    }
    for (sql, binds) in rows {
        let mut query = sqlx::query(sql);
        for value in binds {
            query = match value {
                Value::Number(n) => query.bind(n.as_i64().unwrap()),
                other => query.bind(other.as_str().unwrap().to_string()),
            };
        }
        query.execute(&pool).await.unwrap();
    }
    pool.close().await;
    drop(store);

    // The new release starts on it and migrates.
    let srv = TestServer::spawn_on(db, Arc::new(SystemClock), |_| {}).await;

    // Revocations made before (an access token, an authorization, an API token) were carried
    // into the revocation log every node holds in memory.
    assert_eq!(srv.state.store.revocations_held(), 3);

    // The server app's secret still gets tokens, signed with the keys made before.
    let (status, token) = srv
        .oauth()
        .token(
            oauth::basic(&server),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{token}");
    let signed_with = kid(token["access_token"].as_str().unwrap());
    assert!(old_kids.contains(&signed_with), "{signed_with}");

    // The user signs in with the password set before.
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    let page = session.sign_in(&page, "ann@acme.example", PASSWORD).await;
    assert!(
        session.has_cookie("grantor_session") || session.has_cookie("__Host-grantor_session"),
        "{} {}",
        page.status,
        page.body
    );

    // The periodic purge keeps what is live.
    srv.state
        .store
        .purge_expired(SystemClock.now())
        .await
        .unwrap();

    // A refresh token issued before works, once; one of a revoked authorization does not.
    let basic = oauth::basic(&web);
    let refresh = async |token: &str| srv.oauth().refresh(basic, token, None).await;
    let (status, body) = refresh(&refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid trades:read");
    assert_eq!(refresh(&refresh_token).await.0, 400);
    assert_eq!(refresh(&revoked_refresh_token).await.0, 400);

    // API tokens: the live one is exchanged, the revoked one refused.
    let exchange = async |token: &str| srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(exchange(&api_token).await.0, 200);
    assert_eq!(exchange(&revoked_api_token).await.0, 400);
}
