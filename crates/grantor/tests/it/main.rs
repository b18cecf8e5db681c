//! Grantor's integration tests: one binary, real servers on port 0, real clients.
//!
//! Every test in a `both_backends!` list runs once on a fresh SQLite file and once on a fresh
//! PostgreSQL database (when `GRANTOR_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api;
mod api_tokens;
mod api_validation;
mod audit;
mod browser;
mod browser_accounts;
mod browser_passkeys;
mod browser_reset;
mod browser_totp;
mod cli;
mod client_credentials;
mod connections;
mod consent;
mod console;
mod console_a11y;
mod console_forms;
mod device;
mod dpop;
mod email_verification;
mod faults;
mod hardening;
mod isolation;
mod key_rotation;
mod legacy_grants;
mod logout;
mod mail;
mod mcp;
mod multinode;
mod ops;
mod par;
mod password_reset;
mod passwords;
mod private_key_jwt;
mod refresh;
mod registration;
mod required_second_factor;
mod resource;
mod sessions;
mod sign_in;
mod tenants;
mod throttling;
mod totp;
mod upgrade;
mod walkthrough;
mod way_in;
