//! Several `grantor serve` processes on one database behave as one server.

use crate::both_backends;
use crate::support::process::{self, Process};
use crate::support::{Backend, cli, db::TestDatabase};
use std::time::{Duration, Instant};

both_backends!(
    a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second,
    a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second,
);

/// A `grantor serve` node on `database_url`, and its base URL. All nodes share one issuer,
/// as behind a load balancer.
fn node(database_url: &str) -> (Process, String) {
    let mut command = process::grantor();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--issuer",
        "https://grantor.example",
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

/// Seeds an organization, an API and a server app added to it with the CLI; returns the
/// app's ID and secret.
async fn seed_server_app(url: &str) -> (String, String) {
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

async fn a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let nodes = [node(url), node(url)];
    let (id, secret) = seed_server_app(url).await;

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

async fn introspect(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
    token: &str,
) -> bool {
    let answer: serde_json::Value = http
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["active"] == true
}

async fn a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (id, secret) = seed_server_app(url).await;
    // Started after seeding, so both already know the app.
    let [(_a, a), (_b, b)] = [node(url), node(url)];
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{a}/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    assert!(introspect(&http, &b, &id, &secret, token).await);

    let revoked = http
        .post(format!("{a}/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // At once where it was revoked; within a poll or two everywhere else.
    assert!(!introspect(&http, &a, &id, &secret, token).await);
    let changed = Instant::now();
    while introspect(&http, &b, &id, &secret, token).await {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "node {b} still reports the revoked token active"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
