//! Grantor's HTTP server as a library: [`Application::build`] binds (port 0 works, for tests),
//! [`router`] wires the endpoints. Handlers are thin: they parse, call the core, respond.

pub mod api;
mod client_address;
pub mod config;
pub mod error;
mod input;
mod jwks_fetch;
pub mod mail;
mod metrics;
mod oauth;
mod once;
mod ops;
mod serve;
mod web;

pub use config::Config;
pub use metrics::Metrics;

use axum::Router;
use grantor_core::jose::KeyEncryptionKey;
use grantor_core::keyring::{self, KeyRing, RotationPolicy};
use grantor_core::manage::Manager;
use grantor_core::provider::Provider;
use grantor_core::{Clock, SystemClock};
use grantor_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Everything a handler needs, behind one pointer: extractors and middleware clone the state
/// for every request, and one reference count is cheaper than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub(crate) provider: Arc<Provider<Store>>,
    /// Public for the demo's seeding and for tests that set the stage through `Manager`.
    pub manager: Arc<Manager<Store>>,
    /// Public for tests that read or arrange what only storage shows.
    pub store: Store,
    pub(crate) metrics: Arc<Metrics>,
    /// Public with `rotation` for tests that rotate keys as the background task would.
    pub kek: Arc<KeyEncryptionKey>,
    pub(crate) discovery: Arc<oauth::discovery::Documents>,
    /// Signs CSRF tokens; the same on every node (derived from the key-encryption key).
    pub(crate) csrf_key: Arc<aws_lc_rs::hmac::Key>,
    /// Cookies are `Secure` unless the issuer is plain-http loopback.
    pub(crate) secure_cookies: bool,
    pub rotation: RotationPolicy,
    /// Load balancers whose `X-Forwarded-For` is believed.
    pub(crate) trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Seconds audit events are kept, if not for ever.
    pub(crate) audit_retention: Option<i64>,
    /// Sends mail off the request path.
    pub(crate) mailer: mail::Mailer,
}

/// Why the server could not start; the message says what to do.
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(oauth::router())
        .merge(ops::router())
        .merge(web::router())
        .merge(api::router(state.clone()))
        .layer(axum::middleware::from_fn(input::refuse_nul_in_path))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    poll_interval: Duration,
    limits: serve::ConnectionLimits,
}

impl Application {
    /// Connects to the database, migrates, loads (or creates) signing keys and binds.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let listen: SocketAddr = config.listen.parse().map_err(|_| {
            StartupError(format!(
                "listen address {:?} is not host:port",
                config.listen
            ))
        })?;
        let kek = config.key_encryption_key(listen)?;
        let store = Store::connect(&config.database_url)
            .await
            .map_err(|e| StartupError(format!("cannot open database: {e}")))?;
        store
            .migrate()
            .await
            .map_err(|e| StartupError(format!("migration failed: {e}")))?;
        keyring::ensure_active_keys(&store, &kek, clock.as_ref())
            .await
            .map_err(|e| StartupError(format!("signing keys: {e}")))?;
        let rotation = config.rotation_policy();
        let trusted_proxies = config.trusted_proxies()?;
        let keys = Arc::new(KeyRing::default());
        keyring::reload(&store, &kek, &keys, &rotation)
            .await
            .map_err(|e| StartupError(e.to_string()))?;
        store
            .refresh_if_changed()
            .await
            .map_err(|e| StartupError(e.to_string()))?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| StartupError(format!("cannot listen on {listen}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| StartupError(e.to_string()))?;
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let mut settings = config.provider_settings(&issuer)?;
        if config.require_dpop_nonce {
            let key = kek.derive_mac_key("grantor dpop nonce v1");
            settings.dpop_nonces = Some(grantor_core::dpop::Nonces::new(key));
        }
        let mailer = mail::Mailer::start(config.mail_settings(&settings.issuer)?, &settings.issuer)
            .map_err(StartupError)?;
        let discovery = Arc::new(oauth::discovery::Documents::new(
            &settings.issuer,
            &settings.management_api(),
            settings.require_pushed_authorization_requests,
        ));
        let provider = Arc::new(Provider {
            store: store.clone(),
            settings,
            clock: clock.clone(),
            keys,
            verified: Default::default(),
            passwords: grantor_core::password::PasswordChecker::for_this_machine(),
            remote_keys: grantor_core::app_keys::RemoteKeys::new(Some(Arc::new(
                jwks_fetch::HttpJwksFetcher::new(&issuer).map_err(StartupError)?,
            ))),
        });
        let manager = Arc::new(Manager::new(
            store.clone(),
            clock,
            provider.settings.issuer.clone(),
        ));
        let csrf_key = Arc::new(kek.derive_mac_key("grantor csrf v1"));
        let secure_cookies = !config::is_loopback_http(&provider.settings.issuer);
        let state = AppState(Arc::new(Shared {
            audit_retention: config.audit_retention(),
            mailer,
            csrf_key,
            secure_cookies,
            rotation,
            trusted_proxies,
            provider,
            manager,
            store,
            metrics: Arc::new(Metrics::default()),
            kek: Arc::new(kek),
            discovery,
        }));
        Ok(Self {
            listener,
            state,
            poll_interval: Duration::from_millis(config.poll_interval_ms.max(10)),
            limits: config.connection_limits(),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn issuer(&self) -> &str {
        &self.state.provider.settings.issuer
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let watcher = tokio::spawn(watch_configuration(self.state.clone(), self.poll_interval));
        let app = router(self.state.clone());
        let served = serve::serve(self.listener, app, self.limits, shutdown).await;
        watcher.abort();
        self.state.store.close().await;
        served
    }
}

/// Seconds between a node's purges of expired sign-in records; short enough that the tables
/// stay near their live size, and each purge finds its rows by index.
const PURGE_INTERVAL: i64 = 60;

/// A poll still waiting on the database after this is abandoned and tried again on the next
/// tick (sqlx drops a connection cut off mid-query): a database that stopped answering
/// without closing its connections must not keep this node from seeing revocations once
/// it answers again.
const POLL_DEADLINE: Duration = Duration::from_secs(5);

/// Purging deletes in bulk and may take longer; an abandoned purge is redone on the next.
const PURGE_DEADLINE: Duration = Duration::from_secs(60);

/// Polls the configuration version so changes made on other nodes, or by the CLI, take effect
/// here within one interval; reloads signing keys when they changed, and applies key
/// transitions (activation, retirement, scheduled rotation) when they fall due.
async fn watch_configuration(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge = 0;
    // Ask at once: the first reload happened at start-up, before this task knew its result.
    let mut next_key_transition = Some(i64::MIN);
    loop {
        ticker.tick().await;
        let now = state.provider.clock.now();
        let poll = poll_configuration(&state, now, &mut next_key_transition);
        if tokio::time::timeout(POLL_DEADLINE, poll).await.is_err() {
            tracing::warn!("configuration poll abandoned: the database did not answer in time");
        }
        if now - last_purge >= PURGE_INTERVAL {
            last_purge = now;
            match tokio::time::timeout(PURGE_DEADLINE, purge(&state, now)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "purging expired records failed"),
                Err(_) => tracing::warn!("purging expired records abandoned: it took too long"),
            }
        }
    }
}

/// Deletes expired sign-in records, and audit events past the retention period if one is set.
async fn purge(state: &AppState, now: i64) -> Result<(), grantor_core::StoreError> {
    state.store.purge_expired(now).await?;
    if let Some(retention) = state.audit_retention {
        let deleted = state.store.purge_audit_events(now - retention).await?;
        if deleted > 0 {
            tracing::info!(deleted, "audit events past the retention period deleted");
        }
    }
    Ok(())
}

/// One poll: applies due key transitions, picks up other nodes' changes and revocations,
/// and reloads the signing keys when either happened.
async fn poll_configuration(state: &AppState, now: i64, next_key_transition: &mut Option<i64>) {
    let mut advanced = false;
    if next_key_transition.is_some_and(|at| at <= now) {
        if let Err(e) = keyring::advance(
            &state.store,
            &state.kek,
            state.provider.clock.as_ref(),
            &state.rotation,
        )
        .await
        {
            tracing::error!(error = %e, "applying key transitions failed");
        }
        advanced = true;
    }
    match state.store.refresh_if_changed().await {
        Ok(keys_changed) if keys_changed || advanced => {
            match keyring::reload(
                &state.store,
                &state.kek,
                &state.provider.keys,
                &state.rotation,
            )
            .await
            {
                Ok(next) => *next_key_transition = next,
                Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "configuration poll failed"),
    }
}
