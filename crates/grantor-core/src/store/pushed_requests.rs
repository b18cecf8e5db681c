//! Pushed authorization requests (RFC 9126): the checked parameters an app pushed, kept
//! under the hash of the `request_uri` it was given, until used once or expired.

use super::StoreResult;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequestRecord {
    pub request_uri_hash: String,
    /// The app that pushed it: only it may use it.
    pub client_id: String,
    /// The authorization request's parameters, form-encoded.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub trait PushedRequestStore: Send + Sync {
    /// Stores a pushed request unless its app already has `max_live` unused and unexpired at
    /// `now`; returns whether it was stored.
    fn insert_pushed_request(
        &self,
        request: &PushedRequestRecord,
        max_live: i64,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Marks the pushed request used, atomically, if it belongs to `client_id`, is unused
    /// and unexpired at `now`: the first caller gets it, later ones nothing.
    fn consume_pushed_request(
        &self,
        request_uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<Option<PushedRequestRecord>>> + Send;
}
