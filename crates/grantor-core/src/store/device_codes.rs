//! Device authorizations (RFC 8628): a device code the device polls with, a user code the
//! person types on the `/device` page, and the person's answer. Both codes are stored hashed.

use super::{SingleUse, StoreResult};
use crate::scope::ScopeSet;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeRecord {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    /// What the device asked for.
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
    /// Seconds the device must wait between polls; grows with each `slow_down`.
    pub interval: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_polled_at: Option<i64>,
    /// The person's answer, once given.
    pub decision: Option<DeviceDecision>,
    /// Whether the approved code was exchanged for tokens (it works once).
    pub consumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    Approved(DeviceApproval),
    Denied,
}

/// What the person approved: who, in which organization, which scopes, and the grant the
/// tokens will belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    pub user_id: String,
    pub org_id: String,
    pub scopes: ScopeSet,
    pub auth_time: i64,
    /// How the person who approved had signed in.
    pub method: crate::model::SignInMethod,
    pub grant_id: String,
}

pub trait DeviceCodeStore: Send + Sync {
    /// Stores a new device authorization unless its app already has `max_pending` that are
    /// neither expired nor exchanged at `now`; returns whether it was stored. A user code
    /// already in use is a [`crate::StoreError::Conflict`].
    fn insert_device_code(
        &self,
        code: &DeviceCodeRecord,
        max_pending: i64,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The device authorization of a device code, whatever its state.
    fn device_code(
        &self,
        device_code_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<DeviceCodeRecord>>> + Send;
    /// The device authorization of a user code that still waits for an answer at `now`.
    fn pending_device_code(
        &self,
        user_code_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<Option<DeviceCodeRecord>>> + Send;
    /// Notes a poll at `now`, and the interval the device must keep from now on.
    fn record_device_poll(
        &self,
        device_code_hash: &str,
        now: i64,
        interval: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records the person's answer, atomically, only while the code still waits for one at
    /// `now`; returns whether it was recorded.
    fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Marks an approved device code exchanged, atomically: the first caller gets the
    /// record; later ones learn its grant. A code not approved is [`SingleUse::Unknown`].
    fn consume_device_code(
        &self,
        device_code_hash: &str,
        now: i64,
    ) -> impl Future<Output = StoreResult<SingleUse<DeviceCodeRecord>>> + Send;
}
