//! Idempotency keys.

use super::StoreResult;
use std::future::Future;

/// What is known of an idempotency key when a request claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// New: this request goes ahead and records its answer.
    Claimed,
    /// Another request with this key is still under way.
    InProgress { request: String },
    /// Answered before: `(status, sealed answer)`.
    Answered {
        request: String,
        status: i64,
        response_sealed: String,
    },
}

/// Idempotency keys of management API writes, per caller.
pub trait IdempotencyStore: Send + Sync {
    fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<IdempotencyClaim>> + Send;
    fn record_idempotent_answer(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        response_sealed: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Forgets a claim whose request failed, so a retry may go ahead.
    fn release_idempotency_key(
        &self,
        caller: &str,
        key: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
