//! Grantor's storage: one sqlx implementation of the core's storage traits, serving SQLite and
//! PostgreSQL with the same SQL (sqlx's `Any` driver; `$N` placeholders work on both).
//!
//! Backend differences live in [`pool`] only. Configuration data read on hot paths is cached
//! in [`cache`] by key; each change names what it touched in a change log ([`changes`]),
//! and every node evicts those entries within a poll interval of a change made anywhere, by
//! the CLI included.

mod api_tokens;
mod audit;
mod cache;
mod changes;
mod directory;
mod grants;
mod idempotency;
mod invitations;
mod keys;
mod migrate;
pub mod pool;
mod revocations;
mod rows;
mod sessions;

pub use cache::MAX_UNKNOWN_CLIENTS;
pub use pool::{Backend, Store};
