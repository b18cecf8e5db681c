//! Grantor's protocol and domain core.
//!
//! Nothing here knows about HTTP or SQL: handlers in `grantor-server` parse requests into the
//! types defined here and call [`provider::Provider`]; storage is reached only through the
//! narrow traits in [`store`], implemented by `grantor-store`.

pub mod app_keys;
pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod dpop;
pub mod error;
pub mod grant;
pub mod keyring;
pub mod login;
pub mod manage;
pub mod model;
pub mod oidc;
pub mod par;
pub mod params;
pub mod password;
pub mod pkce;
pub mod policy;
pub mod provider;
pub mod registration;
pub mod scope;
pub mod secret;
pub mod store;
pub mod totp;
pub mod webauthn;

// Token formats, JOSE and the clock live in `grantor-token`, which resource servers use
// without this crate; they keep their paths here.
pub use grantor_token::{clock, jose, token};

#[cfg(test)]
mod testing;

pub use clock::{Clock, SystemClock};
pub use error::{
    CryptoError, ErrorCode, FieldError, FieldErrors, OAuthError, ServiceError, StoreError,
};
