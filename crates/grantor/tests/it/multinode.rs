//! Several `grantor serve` processes on one database behave as one server.

use crate::both_backends;
use crate::support::{Backend, TEST_KEK, cli, db::TestDatabase};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

both_backends!(a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second);

/// A `grantor serve` process, killed on drop.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_grantor"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .env("GRANTOR_KEY_ENCRYPTION_KEY", TEST_KEK)
            .env("GRANTOR_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("grantor serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("node reports its address");
        Self { child, base }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn token_status(http: &reqwest::Client, node: &Node, id: &str, secret: &str) -> u16 {
    http.post(format!("{}/oauth2/token", node.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let nodes = [Node::start(url), Node::start(url)];
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

    let http = reqwest::Client::new();
    // The add-to-org above reaches both nodes within a poll interval.
    for node in &nodes {
        let started = Instant::now();
        while token_status(&http, node, &id, &secret).await != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "node {} never saw the new app",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        cli(url, &["app", "regenerate-secret", "--app", &id], None)
            .await
            .0
    );
    let changed = Instant::now();
    for node in &nodes {
        while token_status(&http, node, &id, &secret).await != 401 {
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "node {} still accepts the old secret",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
