//! Acting once per key: the one service behind the management API's `Idempotency-Key` and
//! the console's one-time forms. A key is claimed before the work, finished with the answer
//! (sealed under the key-encryption key, since it may hold a secret shown once) or released
//! after a refusal so a corrected request may go ahead. Keys are per caller and kept a day.

use crate::AppState;
use grantor_core::StoreError;
use grantor_core::store::{IdempotencyClaim, IdempotencyStore};

/// One caller's key, for one purpose (`idempotency` for the API, `console` for forms): the
/// purpose is part of what seals the answer, so one cannot open the other's.
pub struct OnceKey<'a> {
    state: &'a AppState,
    caller: &'a str,
    key: &'a str,
    sealing: String,
}

/// Where a claimed key stands.
pub enum Claim {
    /// Nobody used it yet: go ahead, then [`OnceKey::finish`] or [`OnceKey::release`].
    First,
    /// Claimed for `request`, whose answer is not in yet.
    InProgress { request: String },
    /// Answered before, for `request`: its status and its answer, if it can be read back.
    Answered {
        request: String,
        status: i64,
        answer: Option<Vec<u8>>,
    },
}

impl<'a> OnceKey<'a> {
    pub fn new(state: &'a AppState, purpose: &str, caller: &'a str, key: &'a str) -> Self {
        Self {
            state,
            caller,
            key,
            sealing: format!("{purpose} {caller} {key}"),
        }
    }

    /// Claims the key for `request` (what the caller asked, so a reuse for another request
    /// is told apart).
    pub async fn claim(&self, request: &str) -> Result<Claim, StoreError> {
        let now = self.state.provider.clock.now();
        let claimed = self
            .state
            .store
            .claim_idempotency_key(self.caller, self.key, request, now)
            .await?;
        Ok(match claimed {
            IdempotencyClaim::Claimed => Claim::First,
            IdempotencyClaim::InProgress { request } => Claim::InProgress { request },
            IdempotencyClaim::Answered {
                request,
                status,
                response_sealed,
            } => Claim::Answered {
                request,
                status,
                answer: self.state.kek.open(&self.sealing, &response_sealed).ok(),
            },
        })
    }

    /// Keeps the answer, so a repeat gets it; a failure to keep it is logged, not shown: the
    /// work itself is done.
    pub async fn finish(&self, status: u16, answer: &[u8]) {
        let kept = match self.state.kek.seal(&self.sealing, answer) {
            Ok(sealed) => self
                .state
                .store
                .record_idempotent_answer(self.caller, self.key, i64::from(status), &sealed)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, "keeping the answer of a once-only request failed");
        }
    }

    /// Frees the key after a refusal, so the request may be sent again.
    pub async fn release(&self) {
        if let Err(e) = self
            .state
            .store
            .release_idempotency_key(self.caller, self.key)
            .await
        {
            tracing::warn!(error = %e, "releasing a once-only key failed");
        }
    }
}
