//! Test support: a real Grantor on an ephemeral port ([`TestServer`]), seeded through its
//! `Manager`, and the clients the tests speak to it with:
//!
//! - [`oauth`]: the protocol endpoints as a client calls them, and the code flow;
//! - [`api`]: the management API, one typed method per operation;
//! - [`http_session`]: one user's cookies and forms over plain HTTP;
//! - [`chrome`]: a real browser (headless Chromium over WebDriver);
//! - [`resource_server`]: an API behind `grantor-resource`'s layer;
//! - [`process`] and [`cli`]: real `grantor` processes; [`db`]: a fresh database per test.

pub mod api;
pub mod chrome;
pub mod db;
pub mod http_session;
pub mod oauth;
pub mod oauth_http;
pub mod process;
pub mod resource_server;
pub mod smtp;

use grantor_core::manage::{AppWithSecret, NewApp};
use grantor_core::model::{AppType, Caller, LegacyGrant, Organization, Role, ScopeDefinition};
use grantor_core::store::{Registry, UserStore};
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
    /// The server app's Basic credentials.
    pub fn basic(&self) -> Option<(&str, &str)> {
        Some((self.client_id(), self.secret()))
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
/// Where users' apps may send people after signing out.
pub const SIGNED_OUT: &str = "https://app.example.com/signed-out";

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
        oauth::authorize_url(&self.web.app.client_id, WEB_REDIRECT, more)
    }

    /// The web app's Basic credentials.
    pub fn web_basic(&self) -> Option<(&str, &str)> {
        oauth::basic(&self.web)
    }
}

pub fn user_app(app_type: AppType, name: &str, redirect: &str, legacy: &[LegacyGrant]) -> NewApp {
    NewApp::new(app_type, name)
        .redirect_uris([redirect])
        .post_logout_redirect_uris(["https://app.example.com/signed-out"])
        .scopes(["openid", "profile", "email", "trades:read", "trades:write"])
        .legacy_grants(legacy.iter().copied())
}

pub fn server_app(name: &str, scopes: &[&str]) -> NewApp {
    NewApp::new(AppType::Server, name).scopes(scopes.iter().copied())
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Arc::new(SystemClock), |_| {}).await
    }

    /// A server that trusts `X-Forwarded-For` from 127.0.0.1 (as behind a proxy there), with
    /// [`TestServer::seed_sign_in`]'s `acme`.
    pub async fn spawn_behind_proxy(backend: Backend) -> (Self, SignInSeed) {
        let srv = Self::spawn_with(backend, Arc::new(SystemClock), |c| {
            c.trusted_proxies = vec!["127.0.0.1".into()];
        })
        .await;
        let seed = srv.seed_sign_in("acme").await;
        (srv, seed)
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
        let org = self
            .state
            .manager
            .create_organization(&Caller::operator(), org_name)
            .await
            .unwrap();
        self.trading_api(&org).await;
        let bot = server_app("bot", &["trades:read", "trades:write"]);
        let app = self.added_app(&org.id, bot).await;
        Seed { org, app }
    }

    /// Creates a user (password [`PASSWORD`]) with `role` in `org`.
    pub async fn member(&self, org: &str, email: &str, role: Role) {
        let m = &self.state.manager;
        if UserStore::user_by_email(&self.state.store, email)
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
        m.add_member(&Caller::operator(), org, email, role)
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

    /// A web app of the seed's organization that may use the password grant.
    pub async fn password_app(&self, seed: &SignInSeed) -> AppWithSecret {
        self.state
            .manager
            .create_app(
                &Caller::operator(),
                &seed.seed.org.id,
                user_app(
                    AppType::Web,
                    "Legacy",
                    WEB_REDIRECT,
                    &[LegacyGrant::Password],
                ),
            )
            .await
            .unwrap()
    }

    /// Creates an app for `org` and adds it to `org` with all its scopes.
    pub async fn added_app(&self, org: &str, app: NewApp) -> AppWithSecret {
        let m = &self.state.manager;
        let app = m.create_app(&Caller::operator(), org, app).await.unwrap();
        let scopes = app.app.scopes.iter().map(|s| s.to_string()).collect();
        m.add_app_to_organization(&Caller::operator(), &app.app.client_id, org, scopes)
            .await
            .unwrap();
        app
    }

    /// A fresh user agent for this server's pages.
    pub fn http_session(&self) -> http_session::HttpSession {
        http_session::HttpSession::new(&self.issuer)
    }

    /// POSTs a form, optionally with Basic credentials; returns status, headers and JSON body.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.oauth().post(path, basic, form).await
    }

    /// GETs `path` with an optional `Cookie` header; returns status, headers and body text.
    pub async fn get_raw(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self.http.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, headers, resp.text().await.unwrap())
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

/// Seeds an organization, an API and a server app added to it with the CLI; returns the
/// app's ID and secret.
pub async fn seed_server_app(url: &str) -> (String, String) {
    assert!(cli(url, &["org", "create", "--name", "acme"], None).await.0);
    let (_, _, err) = cli(
        url,
        &[
            "resource",
            "create",
            "--org",
            "acme",
            "--identifier",
            "https://api.example.com",
            "--name",
            "API",
            "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    let (_, app, _) = cli(
        url,
        &[
            "app", "create", "--org", "acme", "--type", "server", "--name", "bot", "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    let id = app["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("app create failed: {err}"))
        .to_string();
    let secret = app["client_secret"].as_str().unwrap().to_string();
    assert!(
        cli(
            url,
            &[
                "app",
                "add-to-org",
                "--app",
                &id,
                "--org",
                "acme",
                "--scope",
                "api:read"
            ],
            None
        )
        .await
        .0
    );

    (id, secret)
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
