//! The token endpoint without the network: Grantor's router called directly on one thread,
//! against a database `bench/run.sh` has seeded, for `/healthz` and a client_credentials
//! token in alternating rounds. Beside the served figures it splits the token's cost between
//! Grantor's own work (this figure) and the socket, the kernel and the scheduler (the rest).
//!
//! Usage: grantor-bench-in-process DATABASE_URL CLIENT_ID CLIENT_SECRET [SECONDS]
//! with GRANTOR_KEY_ENCRYPTION_KEY set as for the server. Prints a line per endpoint and,
//! last, one JSON line for scripts.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tower::Service;

const ROUNDS: u32 = 10;

fn request(endpoint: &str, authorization: &str) -> Result<Request<Body>, String> {
    let request = match endpoint {
        "healthz" => Request::get("/healthz").body(Body::empty()),
        _ => Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, authorization)
            .body(Body::from("grant_type=client_credentials")),
    };
    let mut request = request.map_err(|e| e.to_string())?;
    // What the accept loop adds for every connection.
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    Ok(request)
}

async fn run(args: &[String]) -> Result<serde_json::Value, String> {
    let [url, client_id, client_secret, rest @ ..] = args else {
        return Err(
            "usage: grantor-bench-in-process DATABASE_URL CLIENT_ID CLIENT_SECRET [SECONDS]".into(),
        );
    };
    let seconds: f64 = rest.first().and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let config = grantor_server::Config {
        database_url: url.clone(),
        key_encryption_key: std::env::var("GRANTOR_KEY_ENCRYPTION_KEY").ok(),
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let app = grantor_server::Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    let mut router = grantor_server::router(app.state().clone());
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"))
    );
    let endpoints = ["healthz", "token"];
    let mut totals = [(0u64, Duration::ZERO); 2];
    let round = Duration::from_secs_f64(seconds / f64::from(ROUNDS) / 2.0);
    // A warm-up round, then rounds alternating between the endpoints so that both see the
    // same machine.
    for r in 0..=ROUNDS {
        for (i, endpoint) in endpoints.iter().enumerate() {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < round {
                let Ok(response) = router.call(request(endpoint, &authorization)?).await;
                if response.status() != StatusCode::OK {
                    return Err(format!("{endpoint} answered {}", response.status()));
                }
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .map_err(|e| e.to_string())?;
                std::hint::black_box(body);
                n += 1;
            }
            if r > 0 {
                totals[i].0 += n;
                totals[i].1 += start.elapsed();
            }
        }
    }
    let mut results = serde_json::Map::new();
    for (endpoint, (n, elapsed)) in endpoints.iter().zip(totals) {
        let us = elapsed.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{endpoint:<8} {n:>9} in {:.2} s: {us:>8.2} us each",
            elapsed.as_secs_f64()
        );
        results.insert((*endpoint).into(), json!({ "count": n, "us_each": us }));
    }
    Ok(serde_json::Value::Object(results))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(&args)));
    match result {
        Ok(results) => println!("{results}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
