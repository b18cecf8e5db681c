//! Faults: the database goes away under a running server and comes back.
//!
//! The server reaches PostgreSQL through a small TCP proxy that the test can cut (every
//! connection dropped, new ones refused) and restore, so the outage is real to the server
//! without stopping the machine's PostgreSQL.

use crate::support::db::{self, TestDatabase};
use crate::support::{Backend, TestServer, cli};
use grantor_core::SystemClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// A TCP proxy to `upstream` that can be cut and restored.
struct Proxy {
    address: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let (flag, set) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the database is "down"
                }
                let upstream = upstream.clone();
                set.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            address,
            up,
            connections,
        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_quickly_and_recovers_without_restart() {
    if db::postgres_url().is_none() {
        assert!(
            !crate::support::ci(),
            "under CI the PostgreSQL tests must run"
        );
        return;
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
    let srv = TestServer::spawn_on(db, Arc::new(SystemClock), |c| c.database_url = proxied).await;
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
    let client_credentials = || {
        srv.http
            .post(srv.url("/oauth2/token"))
            .basic_auth(seed.client_id(), Some(seed.secret()))
            .form(&[("grant_type", "client_credentials")])
    };
    let exchange = || {
        srv.http.post(srv.url("/oauth2/token")).form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", api_token.as_str()),
            (
                "subject_token_type",
                "urn:grantor:params:oauth:token-type:api-token",
            ),
        ])
    };
    // Warm: the app is cached.
    assert_eq!(status_and_time(client_credentials()).await.0, 200);
    assert_eq!(status_and_time(exchange()).await.0, 200);

    proxy.cut().await;
    let (status, _, took) = status_and_time(srv.http.get(srv.url("/readyz"))).await;
    println!(
        "outage: /readyz answered {status} after {} ms",
        took.as_millis()
    );
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(6), "{took:?}");
    // What needs the database answers 503 temporarily_unavailable, within the pool's bound.
    let (status, body, took) = status_and_time(exchange()).await;
    println!(
        "outage: a token exchange answered {status} after {} ms",
        took.as_millis()
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("temporarily_unavailable"), "{body}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    // Client credentials for a cached app needs no database.
    let (status, body, took) = status_and_time(client_credentials()).await;
    println!(
        "outage: client credentials answered {status} after {} ms",
        took.as_millis()
    );
    assert_eq!(status, 200, "{body}");

    proxy.restore();
    let back = Instant::now();
    loop {
        let ready = status_and_time(srv.http.get(srv.url("/readyz"))).await.0 == 200;
        if ready && status_and_time(exchange()).await.0 == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no recovery after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "recovered {} ms after the database returned",
        back.elapsed().as_millis()
    );
}
