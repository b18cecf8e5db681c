//! Faults: the database goes away under a running server and comes back.
//!
//! The server reaches PostgreSQL through a small TCP proxy that the test can cut (every
//! connection dropped, new ones refused) and restore, or stall (every byte held, nothing
//! closed: a silent network partition) and resume, so the outage is real to the server
//! without stopping the machine's PostgreSQL.

use crate::support::db::{self, TestDatabase};
use crate::support::oauth::{API_TOKEN_TYPE, OAuth, TOKEN_EXCHANGE, authorize_url, code_in};
use crate::support::{Backend, TestServer, cli, eventually};
use grantor_core::SystemClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

/// A TCP proxy to `upstream` that can be cut and restored, or stalled and resumed.
struct Proxy {
    address: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    /// Whether connections made from now on flow.
    flowing: Arc<std::sync::Mutex<watch::Sender<bool>>>,
    /// Links left stalled for ever (see [`Proxy::heal_dropping_held`]).
    abandoned: std::sync::Mutex<Vec<watch::Sender<bool>>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

/// Copies `from` to `to` while the link flows; a stalled link holds what it has read, and
/// closes nothing.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut flowing: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if flowing.wait_for(|f| *f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let flowing = Arc::new(std::sync::Mutex::new(watch::channel(true).0));
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let (flag, set, link) = (up.clone(), connections.clone(), flowing.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the database is "down"
                }
                let upstream = upstream.clone();
                let (to_server, to_client) = {
                    let link = link.lock().unwrap();
                    (link.subscribe(), link.subscribe())
                };
                set.lock().await.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (client_in, client_out) = client.into_split();
                        let (server_in, server_out) = server.into_split();
                        tokio::join!(
                            pump(client_in, server_out, to_server),
                            pump(server_in, client_out, to_client)
                        );
                    }
                });
            }
        });
        Self {
            address,
            up,
            flowing,
            abandoned: Default::default(),
            connections,
        }
    }

    fn stall(&self) {
        self.flowing.lock().unwrap().send_replace(false);
    }

    /// The partition ends and what it held arrives.
    fn resume(&self) {
        self.flowing.lock().unwrap().send_replace(true);
    }

    /// The partition ends as when a firewall or NAT forgot the connections: new ones flow,
    /// those made before stay silent for ever (nothing closes them).
    fn heal_dropping_held(&self) {
        let stalled = std::mem::replace(&mut *self.flowing.lock().unwrap(), watch::channel(true).0);
        self.abandoned.lock().unwrap().push(stalled);
    }

    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.connections.lock().await.abort_all();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with host and port replaced.
fn through(url: &str, address: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{address}/{path}", user.unwrap_or_default())
}

async fn status_and_time(request: reqwest::RequestBuilder) -> (u16, String, Duration) {
    let started = Instant::now();
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    (status, body, started.elapsed())
}

/// A server on PostgreSQL behind a [`Proxy`], with a server app (cached) and an API token
/// whose exchange needs the database.
struct BehindProxy {
    srv: TestServer,
    proxy: Proxy,
    seed: crate::support::Seed,
    api_token: String,
}

impl BehindProxy {
    /// `None` without PostgreSQL (outside CI).
    async fn start(request_timeout: u64) -> Option<Self> {
        if db::postgres_url().is_none() {
            assert!(
                !crate::support::ci(),
                "under CI the PostgreSQL tests must run"
            );
            return None;
        }
        let db = TestDatabase::create(Backend::Postgres).await;
        let upstream = db.url.split_once("://").unwrap().1;
        let upstream = upstream.split_once('/').unwrap().0;
        let upstream = upstream
            .rsplit_once('@')
            .map_or(upstream, |(_, h)| h)
            .to_string();
        let proxy = Proxy::start(upstream).await;
        let proxied = through(&db.url, proxy.address);
        let srv = TestServer::spawn_on(db, Arc::new(SystemClock), |c| {
            c.database_url = proxied;
            c.request_timeout = request_timeout;
        })
        .await;
        let seed = srv.seed("acme").await;
        let member = srv.seed_sign_in("globex").await;
        let (ok, api_token, err) = cli(
            &srv.db.url,
            &[
                "api-token",
                "create",
                "--org",
                "globex",
                "--user",
                &member.email,
                "--name",
                "s",
                "--scope",
                "trades:read",
            ],
            None,
        )
        .await;
        assert!(ok, "{err}");
        let api_token = api_token["token"].as_str().unwrap().to_string();
        let behind = Self {
            srv,
            proxy,
            seed,
            api_token,
        };
        // Warm: the app is cached, after the server has seen every change made so far (a
        // poll that sees one later would empty the cache).
        behind.srv.state.store.refresh_if_changed().await.unwrap();
        assert_eq!(status_and_time(behind.client_credentials()).await.0, 200);
        assert_eq!(status_and_time(behind.exchange()).await.0, 200);
        Some(behind)
    }

    fn client_credentials(&self) -> reqwest::RequestBuilder {
        self.srv
            .http
            .post(self.srv.url("/oauth2/token"))
            .basic_auth(self.seed.client_id(), Some(self.seed.secret()))
            .form(&[("grant_type", "client_credentials")])
    }

    fn exchange(&self) -> reqwest::RequestBuilder {
        self.srv.http.post(self.srv.url("/oauth2/token")).form(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", self.api_token.as_str()),
            ("subject_token_type", API_TOKEN_TYPE),
        ])
    }

    /// During an outage: `/readyz` fails, what needs the database answers 503
    /// `temporarily_unavailable` within `bound`, and a cached app still gets tokens.
    async fn serves_what_it_can(&self, outage: &str, bound: Duration) {
        let srv = &self.srv;
        let (status, _, took) = status_and_time(srv.http.get(srv.url("/readyz"))).await;
        println!(
            "{outage}: /readyz answered {status} after {} ms",
            took.as_millis()
        );
        assert_eq!(status, 503);
        assert!(took < bound, "{took:?}");
        let (status, body, took) = status_and_time(self.exchange()).await;
        println!(
            "{outage}: a token exchange answered {status} after {} ms",
            took.as_millis()
        );
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("temporarily_unavailable"), "{body}");
        assert!(took < bound, "{took:?}");
        // Client credentials for a cached app needs no database.
        let (status, body, took) = status_and_time(self.client_credentials()).await;
        println!(
            "{outage}: client credentials answered {status} after {} ms",
            took.as_millis()
        );
        assert_eq!(status, 200, "{body}");
    }

    /// Once the database is back: ready, and serving what needs it, within 10 s.
    async fn recovers(&self, outage: &str) {
        let back = Instant::now();
        let recovered = || async {
            let ready = status_and_time(self.srv.http.get(self.srv.url("/readyz")))
                .await
                .0
                == 200;
            ready && status_and_time(self.exchange()).await.0 == 200
        };
        eventually("the node recovers", Duration::from_secs(10), recovered).await;
        println!(
            "{outage}: recovered {} ms after the database returned",
            back.elapsed().as_millis()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_quickly_and_recovers_without_restart() {
    let Some(behind) = BehindProxy::start(30).await else {
        return;
    };
    behind.proxy.cut().await;
    // Refused connections fail fast; the pool's acquire timeout (5 s) bounds the rest.
    behind
        .serves_what_it_can("outage", Duration::from_secs(6))
        .await;
    behind.proxy.restore();
    behind.recovers("outage").await;
}

/// A silent partition: the database's connections stay open but nothing comes back. Requests
/// that wait on it end at the request timeout, answered 503 in their own format, and the
/// node picks up changes again once the database answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_answered_503_at_the_request_timeout() {
    let Some(behind) = BehindProxy::start(2).await else {
        return;
    };
    behind.proxy.stall();
    behind
        .serves_what_it_can("silent partition", Duration::from_secs(4))
        .await;
    behind.proxy.resume();
    behind.recovers("silent partition").await;
}

/// A silent partition that ends with the database's connections forgotten on the way: the
/// pooled ones never answer again. The node replaces them and serves without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_a_partition_left_dead_are_replaced() {
    let Some(behind) = BehindProxy::start(2).await else {
        return;
    };
    // Busy enough beforehand that the pool holds several connections.
    let mut busy = JoinSet::new();
    for _ in 0..16 {
        busy.spawn(status_and_time(behind.exchange()));
    }
    while let Some(answer) = busy.join_next().await {
        let (status, body, _) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    behind.proxy.stall();
    behind
        .serves_what_it_can("partition dropping connections", Duration::from_secs(4))
        .await;
    behind.proxy.heal_dropping_held();
    behind.recovers("partition dropping connections").await;
}

crate::both_backends!(codes_and_refresh_tokens_received_before_a_kill_work_exactly_once_after);

/// What clients got from the node before it died.
#[derive(Default)]
struct Received {
    /// The refresh token last received; the rotations before it all answered.
    refresh_token: String,
    rotations: usize,
    codes: Vec<String>,
}

async fn codes_and_refresh_tokens_received_before_a_kill_work_exactly_once_after(backend: Backend) {
    use crate::support::http_session::HttpSession;
    use crate::support::oauth::redirect_params;
    use crate::support::process::node;
    use crate::support::{PASSWORD, WEB_REDIRECT, seed_server_app};

    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    seed_server_app(url).await;
    let (ok, _, err) = cli(
        url,
        &[
            "user",
            "create",
            "--email",
            "ann@acme.example",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert!(ok, "{err}");
    let member = [
        "member",
        "add",
        "--org",
        "acme",
        "--user",
        "ann@acme.example",
        "--role",
        "member",
    ];
    assert!(cli(url, &member, None).await.0);
    let (_, web, _) = cli(
        url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "web",
            "--name",
            "portal",
            "--redirect-uri",
            WEB_REDIRECT,
            "--scope",
            "openid",
            "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    let web_id = web["client_id"].as_str().unwrap().to_string();
    let web_secret = web["client_secret"].as_str().unwrap().to_string();
    let authorize = authorize_url(&web_id, WEB_REDIRECT, "scope=openid+api%3Aread&state=s");
    let http = reqwest::Client::new();

    for round in 0..2 {
        let (mut doomed, base) = node(url);
        // Sign in and approve once; later authorizations need no page.
        let mut session = HttpSession::new(&base);
        let page = session.get(&authorize).await;
        let page = session.follow(page).await;
        let page = session.sign_in(&page, "ann@acme.example", PASSWORD).await;
        let back = if page.body.contains("action=\"/consent\"") {
            session
                .decide(&page, true, &["openid", "api:read"], None)
                .await
        } else {
            page
        };
        let code = code_in(back.location.as_deref().unwrap());
        let web_basic = Some((web_id.as_str(), web_secret.as_str()));
        let (status, tokens) = OAuth::at(&http, &base)
            .exchange_code(web_basic, &code, WEB_REDIRECT)
            .await;
        assert_eq!(status, 200, "{tokens}");

        // Under load: one client rotating its refresh token, another collecting codes.
        let received = Arc::new(Mutex::new(Received {
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_string(),
            ..Received::default()
        }));
        // The refresh client stops after a rotation that answered; the node dies under the
        // code load, so the last refresh token received was committed and not yet used.
        let stop = Arc::new(AtomicBool::new(false));
        let rotating = {
            let (received, base, http, stop) =
                (received.clone(), base.clone(), http.clone(), stop.clone());
            let (id, secret) = (web_id.clone(), web_secret.clone());
            tokio::spawn(async move {
                let web_basic = Some((id.as_str(), secret.as_str()));
                while !stop.load(Ordering::SeqCst) {
                    let current = received.lock().await.refresh_token.clone();
                    let (status, body) = OAuth::at(&http, &base)
                        .refresh(web_basic, &current, None)
                        .await;
                    let next = body["refresh_token"].as_str().map(str::to_string);
                    assert_eq!(status, 200, "{body}");
                    let mut r = received.lock().await;
                    r.refresh_token = next.unwrap_or_default();
                    r.rotations += 1;
                }
            })
        };
        let mut load = JoinSet::new();
        {
            let (received, base) = (received.clone(), base.clone());
            let cookie = session.cookie_header();
            let authorize = format!("{base}{authorize}&prompt=none");
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            load.spawn(async move {
                loop {
                    let Ok(answer) = http.get(&authorize).header("cookie", &cookie).send().await
                    else {
                        return;
                    };
                    let Some(location) = answer.headers().get("location") else {
                        return;
                    };
                    let params = redirect_params(location.to_str().unwrap());
                    match params.get("code") {
                        Some(code) => received.lock().await.codes.push(code.clone()),
                        None => return,
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(300 + 100 * round)).await;
        stop.store(true, Ordering::SeqCst);
        rotating.await.unwrap();
        doomed.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
        doomed.child.wait().unwrap();
        while load.join_next().await.is_some() {}

        // A new node on the same database honours everything the clients received.
        let (_survivor, base) = node(url);
        let r = received.lock().await;
        assert!(!r.codes.is_empty(), "the load produced codes");
        println!(
            "round {round}: {} codes and {} refresh rotations received before the kill",
            r.codes.len(),
            r.rotations
        );
        let survivor = OAuth::at(&http, &base);
        let web_basic = Some((web_id.as_str(), web_secret.as_str()));
        for code in &r.codes {
            let (status, body) = survivor.exchange_code(web_basic, code, WEB_REDIRECT).await;
            assert_eq!(status, 200, "a code received before the kill: {body}");
        }
        let (status, _) = survivor
            .exchange_code(web_basic, &r.codes[0], WEB_REDIRECT)
            .await;
        assert_eq!(status, 400, "a code works once");
        let (status, body) = survivor.refresh(web_basic, &r.refresh_token, None).await;
        assert_eq!(status, 200, "the refresh token received last: {body}");
        let (status, _) = survivor.refresh(web_basic, &r.refresh_token, None).await;
        assert_eq!(status, 400, "a refresh token works once");
    }
    if backend == Backend::Sqlite {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(url).1)
            .await
            .unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
}
