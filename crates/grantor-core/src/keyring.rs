//! The signing keys in memory: parsed once, swapped whole when the stored set changes.

use crate::jose::{Alg, Jwk, JwkSet, KeyEncryptionKey, SigningKey, VerifyingKey};
use crate::model::{AuditAction, AuditEvent, AuditOutcome};
use crate::store::{KeyState, KeyStore, StoredKey};
use crate::{Clock, CryptoError, StoreError};
use std::fmt;
use std::sync::{Arc, RwLock};

/// Why a key operation failed: storage, or the cryptography itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Store(StoreError),
    Crypto(CryptoError),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::Crypto(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyError {}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<CryptoError> for KeyError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

/// The keys of one moment: the active signer per algorithm, and every published key.
#[derive(Debug, Default)]
pub struct KeySet {
    signers: Vec<Arc<SigningKey>>,
    verifiers: Vec<VerifyingKey>,
    pub jwks: JwkSet,
}

impl KeySet {
    /// Builds the set from stored keys, decrypting private halves of active keys only.
    pub fn from_stored(stored: &[StoredKey], kek: &KeyEncryptionKey) -> Result<Self, KeyError> {
        let mut set = KeySet::default();
        // Newest first, so the newest active key of an algorithm is the one that signs.
        let mut sorted: Vec<&StoredKey> = stored.iter().collect();
        sorted.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        for key in sorted {
            if key.state == KeyState::Active && set.signer(key.alg).is_none() {
                let der = kek.open(&key.kid, &key.private_sealed).map_err(|_| {
                    CryptoError(format!(
                        "signing key {} cannot be decrypted: is the key-encryption key the one it was sealed with?",
                        key.kid
                    ))
                })?;
                let signer = SigningKey::from_pkcs8(key.alg, &der)
                    .map_err(|e| CryptoError(format!("signing key {}: {e}", key.kid)))?;
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
    action: AuditAction,
    kid: &str,
    details: serde_json::Value,
) -> Result<AuditEvent, KeyError> {
    Ok(AuditEvent {
        id: crate::secret::ordered_id("aud_", clock.now())?,
        at: clock.now(),
        actor: "system".into(),
        action,
        target: format!("key:{kid}"),
        org_id: None,
        source: None,
        outcome: AuditOutcome::Success,
        details,
    })
}

/// A freshly generated key, sealed and not yet stored. Generating is the slow part (an RSA
/// key can take seconds), so callers decide whether to store it only after it exists.
struct SealedKey {
    kid: String,
    alg: Alg,
    private_sealed: String,
    public_jwk: Jwk,
}

impl SealedKey {
    fn generate(kek: &KeyEncryptionKey, alg: Alg) -> Result<Self, KeyError> {
        let (key, der) =
            SigningKey::generate(alg).map_err(|e| CryptoError(format!("key generation: {e}")))?;
        let private_sealed = kek
            .seal(&key.kid, &der)
            .map_err(|e| CryptoError(format!("key sealing: {e}")))?;
        Ok(Self {
            kid: key.kid.clone(),
            alg,
            private_sealed,
            public_jwk: key.jwk.clone(),
        })
    }

    async fn store<S: KeyStore>(
        self,
        store: &S,
        clock: &dyn Clock,
        state: KeyState,
        activate_at: i64,
    ) -> Result<String, KeyError> {
        let audit = key_audit(
            clock,
            AuditAction::KeyCreate,
            &self.kid,
            serde_json::json!({"alg": self.alg.as_str(), "state": state.as_str()}),
        )?;
        let stored = StoredKey {
            kid: self.kid,
            alg: self.alg,
            state,
            private_sealed: self.private_sealed,
            public_jwk: self.public_jwk,
            created_at: clock.now(),
            activate_at,
            remove_at: None,
        };
        store.insert_key(&stored, &audit).await?;
        Ok(stored.kid)
    }
}

/// Generates a key of `alg`, seals it and stores it in `state`.
pub async fn create_key<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
    alg: Alg,
    state: KeyState,
    activate_at: i64,
) -> Result<String, KeyError> {
    SealedKey::generate(kek, alg)?
        .store(store, clock, state, activate_at)
        .await
}

/// Makes sure an active ES256 key (access tokens) and RS256 key (OIDC default) exist.
///
/// Nodes started at once on an empty database must end with the same keys, not one each
/// (a token signed with a key another node has not loaded would fail there). So each node
/// proposes its key as the algorithm's one "next" key, due now: storage keeps one per
/// algorithm, and promoting the winner leaves every node with the same active key.
pub async fn ensure_active_keys<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
) -> Result<(), KeyError> {
    let missing = |keys: &[StoredKey], alg: Alg| {
        !keys
            .iter()
            .any(|k| k.alg == alg && k.state == KeyState::Active)
    };
    let keys = store.keys().await?;
    for alg in [Alg::ES256, Alg::RS256] {
        if missing(&keys, alg) {
            let proposed = create_key(store, kek, clock, alg, KeyState::Next, clock.now()).await;
            unless_started_elsewhere(proposed)?;
        }
    }
    advance(store, kek, clock, &RotationPolicy::default()).await?;
    // A rotation already waiting (a next key not yet due) blocks the proposal: sign with a
    // key of this node's own rather than not at all.
    let keys = store.keys().await?;
    for alg in [Alg::ES256, Alg::RS256] {
        if missing(&keys, alg) {
            create_key(store, kek, clock, alg, KeyState::Active, clock.now()).await?;
        }
    }
    Ok(())
}

/// Loads the stored keys and swaps them into the ring; returns when they next change state.
pub async fn reload<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    ring: &KeyRing,
    policy: &RotationPolicy,
) -> Result<Option<i64>, KeyError> {
    let stored = store.keys().await?;
    ring.replace(KeySet::from_stored(&stored, kek)?);
    Ok(next_transition(&stored, policy))
}

/// When keys change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// How long a new key is published before it signs, so every verifier has fetched it.
    pub overlap: i64,
    /// How long a retired key stays published: longer than any token it signed lives.
    pub retire_after: i64,
    /// Rotate automatically when the signing key is this old (seconds); `None`: only by hand.
    pub interval: Option<i64>,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        // A day and five minutes: the longest access-token lifetime an app may set, plus slack.
        Self {
            overlap: 600,
            retire_after: 86_400 + 300,
            interval: None,
        }
    }
}

/// Starts a rotation: new ES256 and RS256 keys, published now, signing after `overlap`.
/// Refused while a rotation is already under way (storage allows one `next` key per
/// algorithm).
pub async fn rotate<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
    overlap: i64,
) -> Result<Vec<String>, KeyError> {
    let activate_at = clock.now() + overlap.max(0);
    let mut kids = Vec::new();
    for alg in [Alg::ES256, Alg::RS256] {
        kids.push(create_key(store, kek, clock, alg, KeyState::Next, activate_at).await?);
    }
    Ok(kids)
}

/// Ignores the conflict of a `next` key another node created first: the rotation it was
/// about to start is under way.
fn unless_started_elsewhere(result: Result<String, KeyError>) -> Result<(), KeyError> {
    match result {
        Ok(_) | Err(KeyError::Store(StoreError::Conflict(_))) => Ok(()),
        Err(e) => Err(e),
    }
}

/// When the schedule next rotates `alg`'s key: `interval` after the newest active key was
/// created, unless a next key is already waiting.
fn scheduled_rotation(keys: &[StoredKey], alg: Alg, interval: i64) -> Option<i64> {
    if keys
        .iter()
        .any(|k| k.alg == alg && k.state == KeyState::Next)
    {
        return None;
    }
    keys.iter()
        .filter(|k| k.alg == alg && k.state == KeyState::Active)
        .map(|k| k.created_at + interval)
        .max()
}

/// The next moment a key changes state under `policy`, if any.
pub fn next_transition(keys: &[StoredKey], policy: &RotationPolicy) -> Option<i64> {
    let mut times: Vec<i64> = keys
        .iter()
        .filter_map(|k| match k.state {
            KeyState::Next => Some(k.activate_at),
            KeyState::Retired => k.remove_at,
            KeyState::Active => None,
        })
        .collect();
    if let Some(interval) = policy.interval {
        times.extend(
            [Alg::ES256, Alg::RS256]
                .into_iter()
                .filter_map(|alg| scheduled_rotation(keys, alg, interval)),
        );
    }
    times.into_iter().min()
}

/// Applies every transition that is due: next keys start signing (the keys they replace
/// retire), retired keys past their time are removed, and a scheduled rotation starts.
/// Idempotent, so every node may run it.
pub async fn advance<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    clock: &dyn Clock,
    policy: &RotationPolicy,
) -> Result<(), KeyError> {
    let now = clock.now();
    let keys = store.keys().await?;
    for alg in [Alg::ES256, Alg::RS256] {
        let due = keys
            .iter()
            .filter(|k| k.alg == alg && k.state == KeyState::Next && k.activate_at <= now)
            .max_by_key(|k| k.created_at);
        if let Some(new) = due {
            store
                .update_key(
                    &new.kid,
                    KeyState::Active,
                    None,
                    &key_audit(
                        clock,
                        AuditAction::KeyActivate,
                        &new.kid,
                        serde_json::json!({}),
                    )?,
                )
                .await?;
            for old in keys
                .iter()
                .filter(|k| k.alg == alg && k.state == KeyState::Active)
            {
                let audit = key_audit(
                    clock,
                    AuditAction::KeyRetire,
                    &old.kid,
                    serde_json::json!({"remove_at": now + policy.retire_after}),
                )?;
                store
                    .update_key(
                        &old.kid,
                        KeyState::Retired,
                        Some(now + policy.retire_after),
                        &audit,
                    )
                    .await?;
            }
        }
    }
    for gone in keys
        .iter()
        .filter(|k| k.state == KeyState::Retired && k.remove_at.is_some_and(|t| t <= now))
    {
        store
            .delete_key(
                &gone.kid,
                &key_audit(
                    clock,
                    AuditAction::KeyRemove,
                    &gone.kid,
                    serde_json::json!({}),
                )?,
            )
            .await?;
    }
    if let Some(interval) = policy.interval {
        for alg in [Alg::ES256, Alg::RS256] {
            let due = |keys: &[StoredKey], now| {
                scheduled_rotation(keys, alg, interval).is_some_and(|due| due <= now)
            };
            if !due(&store.keys().await?, now) {
                continue;
            }
            let key = SealedKey::generate(kek, alg)?;
            // While the key was generated another node may have rotated and its next key may
            // already sign: decide again on fresh keys, or this stale key would rotate twice.
            let now = clock.now();
            if due(&store.keys().await?, now) {
                let created = key
                    .store(store, clock, KeyState::Next, now + policy.overlap)
                    .await;
                unless_started_elsewhere(created)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RotationPolicy, next_transition};
    use crate::jose::Alg;
    use crate::store::{KeyState, StoredKey};

    fn key(
        alg: Alg,
        state: KeyState,
        created_at: i64,
        activate_at: i64,
        remove_at: Option<i64>,
    ) -> StoredKey {
        let public_jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "kid": "k", "alg": alg.as_str(), "use": "sig",
        }))
        .unwrap();
        StoredKey {
            kid: format!("{}-{created_at}", alg.as_str()),
            alg,
            state,
            private_sealed: String::new(),
            public_jwk,
            created_at,
            activate_at,
            remove_at,
        }
    }

    #[test]
    fn the_next_transition_is_the_earliest_due_change() {
        let by_hand = RotationPolicy::default();
        let scheduled = RotationPolicy {
            interval: Some(1_000),
            ..by_hand
        };
        let active = [
            key(Alg::ES256, KeyState::Active, 100, 100, None),
            key(Alg::RS256, KeyState::Active, 200, 200, None),
        ];
        // Rotated only by hand: active keys never change by themselves.
        assert_eq!(next_transition(&active, &by_hand), None);
        // On a schedule: the older key's rotation comes first.
        assert_eq!(next_transition(&active, &scheduled), Some(1_100));

        // A rotation under way: the next key's activation and the retired key's removal.
        let rotating = [
            key(Alg::ES256, KeyState::Active, 100, 100, None),
            key(Alg::ES256, KeyState::Next, 900, 1_500, None),
            key(Alg::RS256, KeyState::Retired, 50, 50, Some(1_300)),
            key(Alg::RS256, KeyState::Active, 200, 200, None),
        ];
        assert_eq!(next_transition(&rotating, &by_hand), Some(1_300));
        // The schedule waits while ES256 has a next key; RS256's is due at 1,200.
        assert_eq!(next_transition(&rotating, &scheduled), Some(1_200));
    }
}
