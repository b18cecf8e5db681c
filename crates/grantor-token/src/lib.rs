//! What Grantor and the APIs that accept its tokens share: the JOSE code (JWK, JWS signing
//! and verification, on `aws-lc-rs`), the access-token claims and introspection answer, and
//! the [`Clock`] that expiry checks ask.
//!
//! It is its own crate so that `grantor-resource` can verify tokens without building the
//! protocol engine, the password hashing and the management service of `grantor-core`, which
//! re-exports these modules under their old paths.

pub mod clock;
pub mod dpop;
pub mod jose;
pub mod token;

pub use clock::{Clock, SystemClock};
