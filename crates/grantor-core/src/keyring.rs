//! The signing keys in memory: parsed once, swapped whole when the stored set changes.

use crate::jose::{Alg, JwkSet, KeyEncryptionKey, SigningKey, VerifyingKey};
use crate::model::AuditEvent;
use crate::store::{KeyState, KeyStore, StoredKey};
use crate::{Clock, StoreError};
use std::sync::{Arc, RwLock};

/// The keys of one moment: the active signer per algorithm, and every published key.
#[derive(Debug, Default)]
pub struct KeySet {
    signers: Vec<Arc<SigningKey>>,
    verifiers: Vec<VerifyingKey>,
    pub jwks: JwkSet,
}

impl KeySet {
    /// Builds the set from stored keys, decrypting private halves of active keys only.
    pub fn from_stored(stored: &[StoredKey], kek: &KeyEncryptionKey) -> Result<Self, StoreError> {
        let mut set = KeySet::default();
        // Newest first, so the newest active key of an algorithm is the one that signs.
        let mut sorted: Vec<&StoredKey> = stored.iter().collect();
        sorted.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        for key in sorted {
            if key.state == KeyState::Active && set.signer(key.alg).is_none() {
                let der = kek.open(&key.kid, &key.private_sealed).map_err(|_| {
                    StoreError::Backend(format!(
                        "signing key {} cannot be decrypted: is the key-encryption key the one it was sealed with?",
                        key.kid
                    ))
                })?;
                let signer = SigningKey::from_pkcs8(key.alg, &der)
                    .map_err(|e| StoreError::Backend(format!("signing key {}: {e}", key.kid)))?;
                set.signers.push(Arc::new(signer));
            }
            if let Ok(v) = VerifyingKey::from_jwk(&key.public_jwk) {
                set.verifiers.push(v);
                set.jwks.keys.push(key.public_jwk.clone());
            }
        }
        Ok(set)
    }

    pub fn signer(&self, alg: Alg) -> Option<&Arc<SigningKey>> {
        self.signers.iter().find(|k| k.alg == alg)
    }

    pub fn verifier(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifiers.iter().find(|k| k.kid == kid)
    }
}

/// The current [`KeySet`], replaced atomically on reload.
#[derive(Debug, Default)]
pub struct KeyRing(RwLock<Arc<KeySet>>);

impl KeyRing {
    pub fn current(&self) -> Arc<KeySet> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, set: KeySet) {
        match self.0.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
    }
}

fn key_audit(
    clock: &dyn Clock,
    action: &str,
    kid: &str,
    details: String,
) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: crate::secret::new_id("aud_")?,
        at: clock.now(),
        actor: "system".into(),
        action: action.into(),
        target: format!("key:{kid}"),
        org_id: None,
        source: None,
        outcome: "success".into(),
        details,
    })
}

/// Generates a key of `alg`, seals it and stores it in `state`.
pub async fn create_key<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
    alg: Alg,
    state: KeyState,
    activate_at: i64,
) -> Result<String, StoreError> {
    let (key, der) = SigningKey::generate(alg)
        .map_err(|e| StoreError::Backend(format!("key generation: {e}")))?;
    let sealed = kek
        .seal(&key.kid, &der)
        .map_err(|e| StoreError::Backend(format!("key sealing: {e}")))?;
    let stored = StoredKey {
        kid: key.kid.clone(),
        alg,
        state,
        private_sealed: sealed,
        public_jwk: key.jwk.clone(),
        created_at: clock.now(),
        activate_at,
        remove_at: None,
    };
    let audit = key_audit(
        clock,
        "key.create",
        &key.kid,
        format!("{} {}", alg.as_str(), state.as_str()),
    )?;
    store.insert_key(&stored, &audit).await?;
    Ok(key.kid.clone())
}

/// Makes sure an active ES256 key (access tokens) and RS256 key (OIDC default) exist.
pub async fn ensure_active_keys<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
) -> Result<(), StoreError> {
    let keys = store.keys().await?;
    for alg in [Alg::ES256, Alg::RS256] {
        if !keys
            .iter()
            .any(|k| k.alg == alg && k.state == KeyState::Active)
        {
            create_key(store, kek, clock, alg, KeyState::Active, clock.now()).await?;
        }
    }
    Ok(())
}

/// Loads the stored keys and swaps them into the ring.
pub async fn reload<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    ring: &KeyRing,
) -> Result<(), StoreError> {
    let stored = store.keys().await?;
    ring.replace(KeySet::from_stored(&stored, kek)?);
    Ok(())
}
