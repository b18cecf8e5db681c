//! Browser sessions and sign-in throttling.

use super::StoreResult;
use std::future::Future;

/// A signed-in browser session; the cookie holds the id, the store only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub method: crate::model::SignInMethod,
    pub expires_at: i64,
    /// What names the session in the user's list and in forms: not the hash, which CSRF
    /// tokens bind to, and never the cookie.
    pub handle: String,
    /// The browser's User-Agent, already bounded and stripped of control characters
    /// ([`crate::manage::clean_user_agent`]).
    pub user_agent: String,
    /// The client address it signed in from.
    pub address: String,
    /// Updated at most once per [`crate::manage::LAST_SEEN_EVERY`], so busy pages do not
    /// write on every request.
    pub last_seen_at: i64,
}

pub trait SessionStore: Send + Sync {
    fn create_session(
        &self,
        session: &SessionRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn session(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    fn delete_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Notes that the session was used at `now`.
    fn touch_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `user_id`'s sessions still live at `now`, the newest first, at most `limit`.
    fn sessions_of_user(
        &self,
        user_id: &str,
        now: i64,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<SessionRecord>>> + Send;
    /// Ends `user_id`'s session named `handle` (or, without one, all of their sessions) but
    /// never the one whose hash is `keep`; records `audit` if any ended. A handle of another
    /// user's session matches nothing. Returns how many ended.
    fn end_sessions(
        &self,
        user_id: &str,
        handle: Option<&str>,
        keep: &str,
        audit: &crate::model::AuditEvent,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Failed sign-in attempts per throttle key (an account or an address).
pub trait ThrottleStore: Send + Sync {
    /// `(failures, last_failure_at)` for the key, if any failure is on record.
    fn failures(&self, key: &str) -> impl Future<Output = StoreResult<Option<(i64, i64)>>> + Send;
    /// Counts one more attempt, as a failure until given back, but only if the record is
    /// still `seen` (compare-and-set); starts over when the last failure is older than
    /// `window`. Returns whether it was counted.
    fn count_attempt(
        &self,
        key: &str,
        seen: Option<(i64, i64)>,
        now: i64,
        window: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives back one counted attempt that turned out not to be a failure.
    fn refund_attempt(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Counts one more failure (starting over when the last one is older than `window`);
    /// returns the new count.
    fn record_failure(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> impl Future<Output = StoreResult<i64>> + Send;
    fn clear_failures(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}
