//! The `trading` binary as a process: it refuses requests without a valid token in RFC 6750's
//! terms, naming its metadata (RFC 9728), which it serves, and says so honestly when Grantor
//! cannot be reached. (The full walkthrough against a running Grantor is in Grantor's
//! integration tests.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_api_refuses_callers_without_a_valid_token() {
    // An issuer nobody listens on: port 9 (discard) on loopback.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trading"))
        .args([
            "--issuer",
            "http://127.0.0.1:9",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .unwrap();
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();

    let resp = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "health needs no token");
    let resp = http.get(format!("{base}/orders")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"api\", resource_metadata=\"https://trading.example.com/.well-known/oauth-protected-resource\""
    );
    let resp = http
        .get(format!("{base}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the metadata needs no token");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let metadata: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        metadata,
        serde_json::json!({
            "resource": "https://trading.example.com",
            "authorization_servers": ["http://127.0.0.1:9"],
            "scopes_supported": ["trades:read", "trades:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Trading 1.0",
        })
    );
    let resp = http
        .get(format!("{base}/orders"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(format!("{base}/orders"))
        .bearer_auth("eyJhbGciOiJFUzI1NiJ9.e30.sig")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        503,
        "no keys can be fetched, so no token can be judged"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    child.kill().unwrap();
    let _ = child.wait();
}
