//! Grantor's signing keys as this resource server knows them: fetched on first use, refreshed
//! when old, and refetched (at most once per interval) when a token names an unknown key.

use grantor_token::jose::{JwkSet, VerifyingKey};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct JwksCache {
    keys: RwLock<Arc<Vec<VerifyingKey>>>,
    /// When the keys were last fetched; also serialises fetches.
    fetched_at: Mutex<Option<Instant>>,
}

impl JwksCache {
    pub fn keys(&self) -> Arc<Vec<VerifyingKey>> {
        self.keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Refreshes the keys when there are none, when they are older than `max_age`, or when
    /// `unknown_kid` and the last fetch is older than `min_interval`. A failed refresh keeps
    /// the keys already known.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        jwks_uri: &str,
        max_age: Duration,
        min_interval: Duration,
        unknown_kid: bool,
    ) -> Result<(), String> {
        let mut fetched_at = self.fetched_at.lock().await;
        let due = match *fetched_at {
            None => true,
            Some(at) if unknown_kid => at.elapsed() >= min_interval,
            Some(at) => at.elapsed() >= max_age,
        };
        if !due {
            return Ok(());
        }
        *fetched_at = Some(Instant::now());
        let set: JwkSet = crate::validator::fetch_json(http.get(jwks_uri))
            .await
            .map_err(|e: reqwest::Error| format!("fetching the JWKS failed: {e}"))?;
        self.set(&set);
        Ok(())
    }

    /// Replaces the known keys (keys of unsupported types are skipped).
    pub fn set(&self, set: &JwkSet) {
        let keys: Vec<VerifyingKey> = set
            .keys
            .iter()
            .filter_map(|k| VerifyingKey::from_jwk(k).ok())
            .collect();
        match self.keys.write() {
            Ok(mut guard) => *guard = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
    }
}
