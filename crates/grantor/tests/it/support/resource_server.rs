//! A little resource server behind `grantor-resource`'s layer, on port 0, and a client of it
//! that reads the `WWW-Authenticate` challenge.

use axum::Router;
use axum::routing::{get, post};
use grantor_resource::{Caller, RequireToken, Validator, require_scope};
use tokio::net::TcpListener;

/// A listener on port 0 and its base URL, for an API whose identifier names its own address.
pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// [`serve_on`] a fresh listener; returns its base URL.
pub async fn serve(validator: Validator) -> String {
    let (listener, base) = listen().await;
    serve_on(listener, validator);
    base
}

/// An API behind the layer with `validator`: `GET /orders` needs `trades:read`, `POST
/// /orders/new` `trades:write`; each answers with the caller. It serves the validator's
/// metadata document too.
pub fn serve_on(listener: TcpListener, validator: Validator) {
    async fn whoami(caller: Caller) -> String {
        format!(
            "{:?} {} {} {}",
            caller.kind,
            caller.subject,
            caller.org_id,
            caller.scopes.join(",")
        )
    }
    let metadata = validator.metadata_router();
    let app = Router::new()
        .route("/orders", get(whoami).layer(require_scope("trades:read")))
        .route(
            "/orders/new",
            post(whoami).layer(require_scope("trades:write")),
        )
        .layer(RequireToken::new(validator))
        .merge(metadata);
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// Calls `url` (POST when `post`) with an optional bearer token; returns status, challenge
/// (empty when none) and body.
pub async fn status_and_challenge(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    post: bool,
) -> (u16, String, String) {
    let req = if post { http.post(url) } else { http.get(url) };
    let req = match bearer {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, resp.text().await.unwrap())
}
