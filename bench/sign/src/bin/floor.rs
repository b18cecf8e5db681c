//! The least a token endpoint on Grantor's stack can cost, to set the issuance target
//! against: a bare axum server (no middleware, no timeouts, no storage, no client
//! authentication) whose `POST /oauth2/token` reads its form body, signs the claims
//! grantor-bench-sign signs with one ES256 key, and answers JSON shaped like Grantor's;
//! beside it `GET /healthz` (and `/readyz`). `bench/run.sh` starts it as it starts the
//! server and loads both endpoints the same way.
//!
//! Usage: grantor-bench-floor [serve --listen] ADDRESS   (the last argument; runs until killed)

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use grantor_core::jose::{Alg, SigningKey};
use std::sync::Arc;

async fn token(State(key): State<Arc<SigningKey>>, body: Bytes) -> Response {
    if !body.starts_with(b"grant_type=") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match key.sign("at+jwt", &grantor_bench_sign::claims()) {
        Ok(token) => {
            let answer = serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "read write",
            });
            ([(header::CACHE_CONTROL, "no-store")], axum::Json(answer)).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn main() -> Result<(), String> {
    let address = std::env::args()
        .skip(1)
        .last()
        .ok_or("usage: grantor-bench-floor [serve --listen] ADDRESS")?;
    let (key, _der) = SigningKey::generate(Alg::ES256).map_err(|e| e.to_string())?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/oauth2/token", post(token))
        .with_state(Arc::new(key));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&address)
                .await
                .map_err(|e| format!("{address}: {e}"))?;
            axum::serve(listener, app).await.map_err(|e| e.to_string())
        })
}
