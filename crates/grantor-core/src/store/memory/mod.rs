//! An in-memory store for unit tests: the storage traits the grants and `Manager` use, kept
//! in plain collections behind one lock, with the rules `grantor-store` enforces in SQL
//! (unique names, one owner left, single use). Tests that need idempotency run against the
//! real store in `crates/grantor/tests`.

mod accounts;
mod directory;
mod flows;
mod grants;
mod management;
mod passkeys;
mod registrations;

use super::{
    AddedAppStore, ApiTokenHolder, ApiTokenStore, AppStore, AuditLog, AuditQuery, Client,
    CodeRecord, ConsentRecord, ConsentStore, ConsentView, DeviceCodeRecord, DeviceCodeStore,
    DeviceDecision, GrantRecord, GrantStore, HolderStanding, InvitationStore, KeyState, KeyStore,
    MemberStore, MembershipChange, OrgResources, OrganizationStore, PasswordReset,
    PasswordResetStore, RefreshRecord, Registry, ResourceServerStore, SecondFactorStore,
    SessionRecord, SessionStore, SingleUse, StoreResult, StoredKey, ThrottleStore, TotpRecord,
    UserStore, Window,
};
use crate::StoreError;
use crate::model::{
    ApiToken, App, AuditEvent, Invitation, Membership, OrgAccessGrant, Organization,
    ResourceServer, Role, User,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Tables {
    organizations: Vec<Organization>,
    users: Vec<User>,
    /// `(org_id, user_id, role)`.
    memberships: Vec<(String, String, Role)>,
    resource_servers: Vec<ResourceServer>,
    apps: Vec<App>,
    org_grants: Vec<OrgAccessGrant>,
    audit: Vec<AuditEvent>,
    api_tokens: Vec<ApiToken>,
    invitations: Vec<Invitation>,
    /// Grants with when they were revoked.
    grants: HashMap<String, (GrantRecord, Option<i64>)>,
    /// Codes and refresh tokens by hash, with when they were used.
    codes: HashMap<String, (CodeRecord, Option<i64>)>,
    refresh_tokens: HashMap<String, (RefreshRecord, Option<i64>)>,
    consents: Vec<ConsentRecord>,
    keys: Vec<StoredKey>,
    sessions: Vec<SessionRecord>,
    password_resets: Vec<PasswordReset>,
    email_verifications: Vec<super::EmailVerification>,
    /// Device authorizations by the hash of their device code.
    device_codes: HashMap<String, DeviceCodeRecord>,
    /// Pushed authorization requests by the hash of their request_uri, with whether used.
    pushed_requests: HashMap<String, (crate::store::PushedRequestRecord, bool)>,
    totp: HashMap<String, TotpRecord>,
    passkeys: Vec<crate::store::PasskeyRecord>,
    /// `(scope, jti)` to when it may be used again.
    used_jtis: HashMap<(String, String), i64>,
    /// `(user_id, code_hash, used_at)`.
    recovery_codes: Vec<(String, String, Option<i64>)>,
    /// Throttle key to `(failures, last_failure_at)`.
    failures: HashMap<String, (i64, i64)>,
    /// Dynamic registrations by client_id; organizations open to registration, with their
    /// ceiling.
    registrations: HashMap<String, crate::store::RegistrationRecord>,
    registration_openings: HashMap<String, String>,
}

/// Cloning shares the tables, as cloning a pool does.
#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<Tables>>);

impl MemoryStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A test that panicked while holding the lock has failed already.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The hashes of `user_id`'s sessions, in the order they started.
    pub fn sessions_of(&self, user_id: &str) -> Vec<String> {
        let t = self.tables();
        let mine = t.sessions.iter().filter(|s| s.user_id == user_id);
        mine.map(|s| s.id_hash.clone()).collect()
    }

    /// Every audit event written, oldest first.
    pub fn audit_trail(&self) -> Vec<AuditEvent> {
        self.tables().audit.clone()
    }
}

fn window<T>(items: impl Iterator<Item = T>, window: Window) -> Vec<T> {
    items.skip(window.offset).take(window.limit).collect()
}

fn conflict(what: &str) -> StoreError {
    StoreError::Conflict(what.into())
}

impl Tables {
    fn org_name(&self, org_id: &str) -> String {
        self.organizations
            .iter()
            .find(|o| o.id == org_id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    }

    fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    fn membership(&self, (org_id, user_id, role): &(String, String, Role)) -> Membership {
        Membership {
            org_id: org_id.clone(),
            org_name: self.org_name(org_id),
            user_id: user_id.clone(),
            email: self
                .user(user_id)
                .map(|u| u.email.clone())
                .unwrap_or_default(),
            role: *role,
        }
    }

    fn enabled(&self, user_id: &str) -> bool {
        self.user(user_id).is_some_and(|u| u.disabled_at.is_none())
    }

    fn is_owner(&self, org_id: &str, user_id: &str) -> bool {
        self.memberships
            .iter()
            .any(|(o, u, r)| o == org_id && u == user_id && *r == Role::Owner)
    }

    fn has_owner(&self, org_id: &str) -> bool {
        self.memberships
            .iter()
            .any(|(o, _, r)| o == org_id && *r == Role::Owner)
    }

    /// Applies a change to the memberships unless it takes the organization's last owner away.
    fn change_membership(
        &mut self,
        org_id: &str,
        user_id: &str,
        change: impl FnOnce(&mut Vec<(String, String, Role)>),
        audit: &AuditEvent,
    ) -> MembershipChange {
        let was_owner = self.is_owner(org_id, user_id);
        let before = self.memberships.clone();
        change(&mut self.memberships);
        if was_owner && !self.has_owner(org_id) {
            self.memberships = before;
            return MembershipChange::WouldLeaveNoOwner;
        }
        self.audit.push(audit.clone());
        MembershipChange::Changed
    }

    fn use_once<T: Clone>(
        rows: &mut HashMap<String, (T, Option<i64>)>,
        key: &str,
        now: i64,
        grant_of: fn(&T) -> &str,
    ) -> SingleUse<T> {
        match rows.get_mut(key) {
            None => SingleUse::Unknown,
            Some((row, used @ None)) => {
                *used = Some(now);
                SingleUse::Fresh(row.clone())
            }
            Some((row, Some(_))) => SingleUse::Reused {
                grant_id: grant_of(row).to_string(),
            },
        }
    }
}
