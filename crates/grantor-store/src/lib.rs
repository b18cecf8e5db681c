//! Grantor's storage: one sqlx implementation of the core's storage traits, serving SQLite and
//! PostgreSQL with the same SQL (sqlx's `Any` driver; `$N` placeholders work on both), one
//! file per trait of `grantor_core::store`.
//!
//! Code branches on the backend in two places only: [`pool`] (the connection URL, pool
//! sizes, SQLite's pragmas) and `migrate` (how the migration lock is taken and whether each
//! migration gets its own transaction). Statements that must behave alike on both are
//! written so they do: a membership change locks its organization with an `UPDATE`, which is
//! a row lock on PostgreSQL and the write lock on SQLite. The migrations are one set of SQL
//! files for both.
//!
//! Configuration data read on hot paths is cached in `cache` by key; each change names what
//! it touched in a change log (`changes`), and every node evicts those entries within a poll
//! interval of a change made anywhere, by the CLI included.

mod added_apps;
mod api_tokens;
mod apps;
mod audit;
mod cache;
mod changes;
mod device_codes;
mod email_verifications;
mod grants;
mod idempotency;
mod invitations;
mod keys;
mod members;
mod migrate;
mod organizations;
mod passkeys;
mod password_resets;
pub mod pool;
mod pushed_requests;
mod registrations;
mod registry;
mod replays;
mod resource_servers;
mod revocations;
mod rows;
mod second_factors;
mod sessions;
mod users;

pub use cache::MAX_UNKNOWN_CLIENTS;
pub use pool::{Backend, Store};
