//! Trading 1.0, the seed's example API: list and place orders, protected by Grantor tokens
//! with `trades:read` and `trades:write`. Orders are kept per organization, in memory.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use grantor_resource::{Caller, CallerKind, Config, RequireToken, Validator, require_scope};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The audience this API is registered under in Grantor.
pub const AUDIENCE: &str = "https://trading.example.com";

/// How the API checks tokens from the Grantor at `issuer`, and what its metadata declares.
pub fn config(issuer: &str) -> Config {
    Config::new(issuer, AUDIENCE)
        .with_scopes(&["trades:read", "trades:write"])
        .with_resource_name("Trading 1.0")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub symbol: String,
    pub side: String,
    pub quantity: u32,
    /// Who placed it: a user id, or the app's client id.
    pub placed_by: String,
}

#[derive(Debug, Deserialize)]
pub struct NewOrder {
    pub symbol: String,
    pub side: String,
    pub quantity: u32,
}

#[derive(Default)]
struct Book {
    next_id: u64,
    by_org: HashMap<String, Vec<Order>>,
}

type Shared = Arc<Mutex<Book>>;

fn book(shared: &Shared) -> std::sync::MutexGuard<'_, Book> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

async fn list_orders(State(shared): State<Shared>, caller: Caller) -> Json<serde_json::Value> {
    let orders = book(&shared)
        .by_org
        .get(&caller.org_id)
        .cloned()
        .unwrap_or_default();
    Json(serde_json::json!({
        "organization": caller.org_id,
        "caller": {
            "kind": if caller.kind == CallerKind::User { "user" } else { "app" },
            "subject": caller.subject,
            "app": caller.client_id,
        },
        "orders": orders,
    }))
}

async fn place_order(
    State(shared): State<Shared>,
    caller: Caller,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), (StatusCode, String)> {
    if !matches!(new.side.as_str(), "buy" | "sell") || new.quantity == 0 || new.symbol.is_empty() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "an order needs a symbol, side buy or sell, and a quantity".into(),
        ));
    }
    let mut book = book(&shared);
    book.next_id += 1;
    let order = Order {
        id: book.next_id,
        symbol: new.symbol,
        side: new.side,
        quantity: new.quantity,
        placed_by: caller.subject,
    };
    book.by_org
        .entry(caller.org_id)
        .or_default()
        .push(order.clone());
    Ok((StatusCode::CREATED, Json(order)))
}

/// The API: `GET /orders` needs `trades:read`, `POST /orders` needs `trades:write`; its
/// metadata (RFC 9728) and `/healthz` need no token.
pub fn router(validator: Validator) -> Router {
    let metadata = validator.metadata_router();
    Router::new()
        .route(
            "/orders",
            get(list_orders)
                .layer(require_scope("trades:read"))
                .merge(axum::routing::post(place_order).layer(require_scope("trades:write"))),
        )
        .layer(RequireToken::new(validator))
        .merge(metadata)
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Shared::default())
}
