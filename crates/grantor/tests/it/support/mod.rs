//! Test support: a real Grantor on an ephemeral port, with typed helpers.

pub mod browser;
pub mod db;
pub mod oauth_http;
pub mod process;
pub mod smtp;

use grantor_core::manage::{AppWithSecret, NewApp};
use grantor_core::model::{AppType, Caller, LegacyGrant, Organization, Role, ScopeDefinition};
use grantor_core::store::Registry;
use grantor_core::{Clock, SystemClock};
use grantor_server::{AppState, Application, Config};
use serde_json::Value;
use std::sync::Arc;

pub use db::Backend;

/// Whether this is a CI run, where a missing PostgreSQL or browser is a failure, not a skip.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A key-encryption key for tests (base64 of 32 bytes).
pub const TEST_KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const TRADING: &str = "https://trading.example.com";

/// Generates `sqlite_*` and `postgres_*` tests from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::support::db::postgres_url().is_none() {
                    assert!(
                        !$crate::support::ci(),
                        "GRANTOR_TEST_POSTGRES_URL is not set, and under CI the PostgreSQL variant must run"
                    );
                    eprintln!("GRANTOR_TEST_POSTGRES_URL is not set: PostgreSQL variant not run");
                    return;
                }
                super::$name($crate::support::Backend::Postgres).await
            })*
        }
    };
}

pub struct TestServer {
    pub issuer: String,
    /// Where it listens (the issuer may name another host).
    pub address: std::net::SocketAddr,
    pub state: AppState,
    pub db: db::TestDatabase,
    pub http: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

/// An organization with the Trading resource server and one server app added to it.
pub struct Seed {
    pub org: Organization,
    pub app: AppWithSecret,
}

impl Seed {
    pub fn client_id(&self) -> &str {
        &self.app.app.client_id
    }
    pub fn secret(&self) -> &str {
        self.app.client_secret.as_deref().unwrap_or_default()
    }
}

pub fn config(database_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url: database_url.into(),
        key_encryption_key: Some(TEST_KEK.into()),
        poll_interval_ms: 50,
        ..Config::default()
    }
}

/// Where the test web app's redirects go; nothing needs to listen there.
pub const WEB_REDIRECT: &str = "https://app.example.com/callback";
/// The native app's registered loopback redirect; any port matches.
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1/callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// An organization with a member, a web app and a native app (see [`TestServer::seed_sign_in`]).
pub struct SignInSeed {
    pub seed: Seed,
    pub email: String,
    pub web: AppWithSecret,
    pub native: AppWithSecret,
}

impl SignInSeed {
    /// An authorization request of the web app (redirect [`WEB_REDIRECT`]) with more parameters.
    pub fn web_authorize_url(&self, more: &str) -> String {
        let redirect: String =
            url::form_urlencoded::byte_serialize(WEB_REDIRECT.as_bytes()).collect();
        format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={redirect}&{more}",
            self.web.app.client_id
        )
    }

    /// The web app's Basic credentials.
    pub fn web_basic(&self) -> Option<(&str, &str)> {
        Some((
            self.web.app.client_id.as_str(),
            self.web.client_secret.as_deref().unwrap_or_default(),
        ))
    }
}

pub fn user_app(app_type: AppType, name: &str, redirect: &str, legacy: &[LegacyGrant]) -> NewApp {
    NewApp {
        app_type,
        name: name.into(),
        redirect_uris: vec![redirect.into()],
        post_logout_redirect_uris: vec!["https://app.example.com/signed-out".into()],
        scopes: ["openid", "profile", "email", "trades:read", "trades:write"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        legacy_grants: legacy.to_vec(),
        access_token_ttl: None,
    }
}

pub fn server_app(name: &str, scopes: &[&str]) -> NewApp {
    NewApp {
        app_type: AppType::Server,
        name: name.into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        legacy_grants: vec![],
        access_token_ttl: None,
    }
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Arc::new(SystemClock), |_| {}).await
    }

    /// A server with its own clock (for tests that move time) and configuration tweaks.
    pub async fn spawn_with(
        backend: Backend,
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_on(db::TestDatabase::create(backend).await, clock, tweak).await
    }

    /// A server on an existing database (which it migrates).
    pub async fn spawn_on(
        db: db::TestDatabase,
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = config(&db.url);
        tweak(&mut config);
        let app = Application::build_with_clock(config, clock)
            .await
            .expect("server starts");
        let issuer = app.issuer().to_string();
        let address = app.address();
        let state = app.state().clone();
        let task = tokio::spawn(async move {
            let _ = app.run(std::future::pending()).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            issuer,
            address,
            state,
            db,
            http,
            _task: task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Gives `org` a Trading API of its own (the first at [`TRADING`], later ones under it, by
    /// the organization's name: a resource server's scopes reach tokens only in its own
    /// organization), declaring `trades:read` and `trades:write`. Returns its identifier.
    pub async fn trading_api(&self, org: &Organization) -> String {
        let taken = self.state.store.resource_server(TRADING).await.unwrap();
        let identifier = match taken {
            None => TRADING.to_string(),
            Some(_) => format!("{TRADING}/{}", org.name),
        };
        self.state
            .manager
            .create_resource_server(
                &Caller::operator(),
                &org.id,
                &identifier,
                "Trading",
                vec![
                    ScopeDefinition {
                        name: "trades:read".into(),
                        description: "Read trades".into(),
                    },
                    ScopeDefinition {
                        name: "trades:write".into(),
                        description: "Place orders".into(),
                    },
                ],
            )
            .await
            .unwrap();
        identifier
    }

    /// Creates an organization with its Trading API ([`Self::trading_api`]) and a server app
    /// added to it with both trading scopes.
    pub async fn seed(&self, org_name: &str) -> Seed {
        let m = &self.state.manager;
        let op = Caller::operator();
        let org = m.create_organization(&op, org_name).await.unwrap();
        self.trading_api(&org).await;
        let app = m
            .create_app(
                &op,
                &org.id,
                server_app("bot", &["trades:read", "trades:write"]),
            )
            .await
            .unwrap();
        m.add_app_to_organization(
            &op,
            &app.app.client_id,
            &org.id,
            vec!["trades:read".into(), "trades:write".into()],
        )
        .await
        .unwrap();
        Seed { org, app }
    }

    /// Creates a user (password [`PASSWORD`]) with `role` in `org`.
    pub async fn member(&self, org: &str, email: &str, role: Role) {
        let m = &self.state.manager;
        if grantor_core::store::UserStore::user_by_email(&self.state.store, email)
            .await
            .unwrap()
            .is_none()
        {
            m.create_user(
                &Caller::operator(),
                email,
                Some(PASSWORD),
                Some("Test User"),
                false,
            )
            .await
            .unwrap();
        }
        m.add_member(&Caller::operator(), org, email, role.as_str())
            .await
            .unwrap();
    }

    /// [`TestServer::seed`] plus a member `ann@<org>.example`, a web app (redirect
    /// [`WEB_REDIRECT`]) and a native app (loopback redirect), both in the org.
    pub async fn seed_sign_in(&self, org_name: &str) -> SignInSeed {
        let seed = self.seed(org_name).await;
        let email = format!("ann@{org_name}.example");
        self.member(&seed.org.id, &email, Role::Member).await;
        let m = &self.state.manager;
        let web = m
            .create_app(
                &Caller::operator(),
                &seed.org.id,
                user_app(AppType::Web, "Trading web", WEB_REDIRECT, &[]),
            )
            .await
            .unwrap();
        let native = m
            .create_app(
                &Caller::operator(),
                &seed.org.id,
                user_app(AppType::Native, "Trading CLI", NATIVE_REDIRECT, &[]),
            )
            .await
            .unwrap();
        SignInSeed {
            seed,
            email,
            web,
            native,
        }
    }

    pub fn browser(&self) -> browser::Browser {
        browser::Browser::new(&self.issuer)
    }

    /// POSTs a form, optionally with Basic credentials; returns status, headers and JSON body.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Runs the `grantor` binary against a database; returns success, stdout as JSON (or Null)
/// and stderr.
pub async fn cli(database_url: &str, args: &[&str], stdin: Option<&str>) -> (bool, Value, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_grantor"))
        .args(["--database-url", database_url])
        .args(args)
        .env("GRANTOR_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("grantor binary runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until `check` holds, failing after `within` of real time: for what a server applies
/// on its poll (other nodes' changes, key transitions, revocations made elsewhere).
pub async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut() -> F,
) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
