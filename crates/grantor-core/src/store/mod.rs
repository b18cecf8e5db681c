//! The narrow storage interfaces the core needs. `grantor-store` implements them for SQLite
//! and PostgreSQL; each write of configuration data takes the audit event that records it,
//! so both land in one transaction.
//!
//! One trait per concern, in files that mirror `grantor-store/src/`: each grant and each part
//! of `Manager` asks for the traits it uses, and [`Storage`] (all of them) is for the places
//! that wire everything together.

mod added_apps;
mod api_tokens;
mod apps;
mod audit;
mod device_codes;
mod email_verifications;
mod grants;
mod idempotency;
mod invitations;
mod keys;
mod members;
#[cfg(test)]
pub(crate) mod memory;
mod organizations;
mod passkeys;
mod password_resets;
mod pushed_requests;
mod registrations;
mod registry;
mod replays;
mod resource_servers;
mod revocations;
mod second_factors;
mod sessions;
mod users;

pub use added_apps::AddedAppStore;
pub use api_tokens::{ApiTokenHolder, ApiTokenStore, HolderStanding};
pub use apps::AppStore;
pub use audit::{AuditLog, AuditPosition, AuditQuery};
pub use device_codes::{DeviceApproval, DeviceCodeRecord, DeviceCodeStore, DeviceDecision};
pub use email_verifications::{EmailVerification, EmailVerificationStore};
pub use grants::{
    CodeRecord, ConsentRecord, ConsentStore, ConsentView, GrantRecord, GrantStore, RefreshRecord,
    SingleUse,
};
pub use idempotency::{IdempotencyClaim, IdempotencyStore};
pub use invitations::InvitationStore;
pub use keys::{KeyState, KeyStore, StoredKey};
pub use members::{MemberStore, MembershipChange};
pub use organizations::OrganizationStore;
pub use passkeys::{PasskeyAdded, PasskeyRecord, PasskeyStore};
pub use password_resets::{PasswordReset, PasswordResetStore};
pub use pushed_requests::{PushedRequestRecord, PushedRequestStore};
pub use registrations::{Binding, RegistrationRecord, RegistrationStore};
pub use registry::{Client, OrgResources, Registry};
pub use replays::ReplayStore;
pub use resource_servers::ResourceServerStore;
pub use revocations::RevocationStore;
pub use second_factors::{SecondFactorStore, TotpRecord};
pub use sessions::{SessionRecord, SessionStore, ThrottleStore};
pub use users::UserStore;

use crate::StoreError;

pub type StoreResult<T> = Result<T, StoreError>;

/// A part of an ordered list: at most `limit` items after the first `offset`. Lists that grow
/// with an organization or the installation are read a window at a time, never whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
}

impl Window {
    pub const fn first(limit: usize) -> Self {
        Self { offset: 0, limit }
    }
}

/// Everything the protocol engine needs from storage, for brevity in bounds.
pub trait Storage:
    Registry
    + OrganizationStore
    + UserStore
    + MemberStore
    + ResourceServerStore
    + AppStore
    + AddedAppStore
    + RevocationStore
    + GrantStore
    + ConsentStore
    + DeviceCodeStore
    + PushedRequestStore
    + ReplayStore
    + SessionStore
    + ThrottleStore
    + KeyStore
    + ApiTokenStore
    + InvitationStore
    + AuditLog
    + SecondFactorStore
    + PasskeyStore
    + Clone
    + 'static
{
}

impl<T> Storage for T where
    T: Registry
        + OrganizationStore
        + UserStore
        + MemberStore
        + ResourceServerStore
        + AppStore
        + AddedAppStore
        + RevocationStore
        + GrantStore
        + ConsentStore
        + DeviceCodeStore
        + PushedRequestStore
        + ReplayStore
        + SessionStore
        + ThrottleStore
        + KeyStore
        + ApiTokenStore
        + InvitationStore
        + AuditLog
        + SecondFactorStore
        + PasskeyStore
        + Clone
        + 'static
{
}
