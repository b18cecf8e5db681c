//! Single use of one-time proofs on every node: the `jti` of a DPoP proof or of a client
//! assertion is remembered until the proof would be refused as too old anyway.

use super::StoreResult;
use std::future::Future;

pub trait ReplayStore: Send + Sync {
    /// Records `jti` within `scope` (whose word it is: a key's thumbprint, an app) until
    /// `expires_at`; returns `false` if it was already recorded and is not expired at `now`.
    /// The first of two concurrent callers wins. Callers bound the lengths of both.
    fn first_use(
        &self,
        scope: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
