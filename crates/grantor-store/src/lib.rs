//! Grantor's storage: one sqlx implementation of the core's storage traits, serving SQLite and
//! PostgreSQL with the same SQL (sqlx's `Any` driver; `$N` placeholders work on both).
//!
//! Backend differences live in [`pool`] only. Configuration data read on hot paths is cached
//! in [`cache`] by key; each change names what it touched in a change log ([`changes`]),
//! and every node evicts those entries within a poll interval of a change made anywhere, by
//! the CLI included.

mod added_apps;
mod api_tokens;
mod apps;
mod audit;
mod cache;
mod changes;
mod grants;
mod idempotency;
mod invitations;
mod keys;
mod members;
mod migrate;
mod organizations;
pub mod pool;
mod registry;
mod resource_servers;
mod revocations;
mod rows;
mod sessions;
mod users;

pub use cache::MAX_UNKNOWN_CLIENTS;
pub use pool::{Backend, Store};
