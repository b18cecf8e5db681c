//! Running Grantor: configuration layering, the key-encryption key rules, health and metrics,
//! and a graceful stop.

use crate::support::db::{Backend, TestDatabase};
use crate::support::process::{self, Process};
use crate::support::{TestServer, cli};
use std::process::Command;

#[tokio::test]
async fn flags_win_over_environment_which_wins_over_the_file() {
    let dir = TestDatabase::create(Backend::Sqlite).await;
    let db = |name: &str| dir.dir.join(name).display().to_string();
    let config = dir.dir.join("grantor.toml");
    std::fs::write(&config, format!("database_url = \"{}\"\n", db("file.db"))).unwrap();
    let run = |env: Option<&str>, flag: Option<&str>, org: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_grantor"));
        command
            .env_remove("GRANTOR_DATABASE_URL")
            .args(["--config", config.to_str().unwrap()]);
        if let Some(e) = env {
            command.env("GRANTOR_DATABASE_URL", e);
        }
        if let Some(f) = flag {
            command.args(["--database-url", f]);
        }
        let out = command
            .args(["org", "create", "--name", org])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(None, None, "from-file");
    run(Some(&db("env.db")), None, "from-env");
    run(Some(&db("env.db")), Some(&db("flag.db")), "from-flag");
    for (file, org) in [
        ("file.db", "from-file"),
        ("env.db", "from-env"),
        ("flag.db", "from-flag"),
    ] {
        let (ok, orgs, _) = cli(&db(file), &["org", "list"], None).await;
        assert!(ok);
        let names: Vec<&str> = orgs
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [org], "{file}");
    }
}

#[tokio::test]
async fn a_public_issuer_needs_a_configured_key_encryption_key() {
    let dir = TestDatabase::create(Backend::Sqlite).await;
    let out = Command::new(env!("CARGO_BIN_EXE_grantor"))
        .env_remove("GRANTOR_KEY_ENCRYPTION_KEY")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            "https://auth.example.com",
            "--database-url",
            &dir.url,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GRANTOR_KEY_ENCRYPTION_KEY"), "{stderr}");
    assert!(
        !std::path::Path::new(&format!("{}.kek", dir.url)).exists(),
        "no key is generated for a public issuer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_install_generates_its_key_and_stops_gracefully() {
    let dir = TestDatabase::create(Backend::Sqlite).await;
    let mut command = process::grantor();
    command.env_remove("GRANTOR_KEY_ENCRYPTION_KEY").args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &dir.url,
    ]);
    let mut node = Process::spawn(command);
    let base = node.word_after("listening on ");
    let kek = std::fs::read_to_string(format!("{}.kek", dir.url))
        .expect("the key is written beside the database");
    assert_eq!(kek.trim().len(), 44, "base64 of 32 bytes");
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let pid = node.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = node.child.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM drains and exits cleanly: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_report_what_happened() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let seed = srv.seed("acme").await;
    srv.client_credentials(&seed, &[]).await;
    srv.client_credentials(&seed, &[("scope", "nope")]).await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            srv.http.get(srv.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let metrics = srv
        .http
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "grantor_tokens_issued_total{grant_type=\"client_credentials\",outcome=\"success\"} 1",
        "grantor_tokens_issued_total{grant_type=\"client_credentials\",outcome=\"invalid_scope\"} 1",
        "grantor_http_requests_total{route=\"/oauth2/token\",status=\"200\"} 1",
        "grantor_http_requests_total{route=\"/oauth2/token\",status=\"400\"} 1",
        "grantor_http_request_duration_seconds_count{route=\"/oauth2/token\"} 2",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in:\n{metrics}");
    }
}
