//! Several `grantor serve` processes on one database behave as one server.

use crate::both_backends;
use crate::support::process::{self, Process};
use crate::support::{Backend, cli, db::TestDatabase};
use std::time::{Duration, Instant};

both_backends!(a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second);

/// A `grantor serve` node on `database_url`, and its base URL.
fn node(database_url: &str) -> (Process, String) {
    let mut command = process::grantor();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
    ]);
    let node = Process::spawn(command);
    let base = node.word_after("listening on ");
    (node, base)
}

async fn token_status(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> u16 {
    http.post(format!("{base}/oauth2/token"))
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
    let nodes = [node(url), node(url)];
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
    for (_, base) in &nodes {
        let started = Instant::now();
        while token_status(&http, base, &id, &secret).await != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "node {base} never saw the new app"
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
    for (_, base) in &nodes {
        while token_status(&http, base, &id, &secret).await != 401 {
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "node {base} still accepts the old secret"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
