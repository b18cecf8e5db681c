//! Operations endpoints: liveness, readiness (database reachable) and metrics.

use crate::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

/// How long readiness waits for the database: a database that stopped answering without
/// closing its connection fails the check at once, not when the request times out.
const READY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_DEADLINE, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
        Err(_elapsed) => {
            tracing::warn!("readiness check: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database not answering\n")
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(state.store.cached_clients(), state.store.revocations_held()),
    )
}
