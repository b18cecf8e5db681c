//! Protect Rust APIs with Grantor access tokens.
//!
//! A resource server (an API registered in Grantor with its scopes) adds one tower layer,
//! [`RequireToken`], that checks the bearer token of every request, and declares per route
//! which scope it needs with [`require_scope`]. Handlers receive the [`Caller`] (a user or an
//! app, its organization and scopes) as an axum extractor. Failures answer per RFC 6750.
//!
//! Tokens are verified locally against Grantor's JWKS (found through discovery, cached, and
//! refetched when a token names an unknown key, so key rotation needs no restart), or, when
//! revocation must take effect at once, by asking Grantor's introspection endpoint.
//!
//! The API publishes its protected-resource metadata (RFC 9728) with
//! [`Validator::metadata_router`]: its identifier, Grantor as its authorization server, and the
//! scopes declared with [`Config::with_scopes`], at the well-known URL formed from the
//! identifier (`https://trading.example.com/v1` has
//! `https://trading.example.com/.well-known/oauth-protected-resource/v1`). Every refusal names
//! that URL in its challenge, `WWW-Authenticate: Bearer ..., resource_metadata="..."`, so a
//! client that meets the API needs nothing else to find where to get a token.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use grantor_resource::{Caller, Config, RequireToken, Validator, require_scope};
//!
//! async fn list_orders(caller: Caller) -> Json<Vec<String>> {
//!     Json(vec![format!("orders of organization {}", caller.org_id)])
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let config = Config::new("http://127.0.0.1:8080", "https://trading.example.com")
//!     .with_scopes(&["trades:read"])
//!     .with_resource_name("Trading");
//! let validator = Validator::new(config);
//! // Served without a token: merged after the layer, so outside it.
//! let metadata = validator.metadata_router();
//! let app: Router = Router::new()
//!     .route("/orders", get(list_orders).layer(require_scope("trades:read")))
//!     .layer(RequireToken::new(validator))
//!     .merge(metadata);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod caller;
mod error;
mod guard;
mod jwks;
mod metadata;
mod validator;

pub use caller::{Caller, CallerKind};
pub use error::TokenError;
pub use grantor_token::jose::Alg;
pub use guard::{RequireScope, RequireToken, require_scope};
pub use validator::{Config, IntrospectionConfig, Validator};
