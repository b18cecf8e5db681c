//! Signing keys.

use super::StoreResult;
use crate::jose::Jwk;
use crate::model::AuditEvent;
use std::future::Future;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published in JWKS, not yet signing.
    Next,
    /// Signing (one per algorithm).
    Active,
    /// No longer signing; published until the tokens it signed have expired.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(Self::Next),
            "active" => Some(Self::Active),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A signing key as stored: the private half sealed under the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: crate::jose::Alg,
    pub state: KeyState,
    pub private_sealed: String,
    pub public_jwk: Jwk,
    pub created_at: i64,
    /// When a `next` key starts signing.
    pub activate_at: i64,
    /// When a `retired` key stops being published.
    pub remove_at: Option<i64>,
}

pub trait KeyStore: Send + Sync {
    fn keys(&self) -> impl Future<Output = StoreResult<Vec<StoredKey>>> + Send;
    fn insert_key(
        &self,
        key: &StoredKey,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Changes a key's state (and when a retired key is to be removed).
    fn update_key(
        &self,
        kid: &str,
        state: KeyState,
        remove_at: Option<i64>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn delete_key(
        &self,
        kid: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
