//! An in-memory store for unit tests: the storage traits the grants and `Manager` use, kept
//! in plain collections behind one lock, with the rules `grantor-store` enforces in SQL
//! (unique names, one owner left, single use). Tests that need idempotency run against the
//! real store in `crates/grantor/tests`.

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
    /// Device authorizations by the hash of their device code.
    device_codes: HashMap<String, DeviceCodeRecord>,
    /// Pushed authorization requests by the hash of their request_uri, with whether used.
    pushed_requests: HashMap<String, (crate::store::PushedRequestRecord, bool)>,
    totp: HashMap<String, TotpRecord>,
    /// `(user_id, code_hash, used_at)`.
    recovery_codes: Vec<(String, String, Option<i64>)>,
    /// Throttle key to `(failures, last_failure_at)`.
    failures: HashMap<String, (i64, i64)>,
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

impl Registry for MemoryStore {
    async fn client(&self, client_id: &str) -> StoreResult<Option<Arc<Client>>> {
        let t = self.tables();
        Ok(t.apps.iter().find(|a| a.client_id == client_id).map(|app| {
            Arc::new(Client {
                app: app.clone(),
                org_name: t.org_name(&app.org_id),
                org_grants: t
                    .org_grants
                    .iter()
                    .filter(|g| g.client_id == client_id)
                    .cloned()
                    .collect(),
            })
        }))
    }

    async fn resource_server(&self, identifier: &str) -> StoreResult<Option<Arc<ResourceServer>>> {
        let t = self.tables();
        let found = t
            .resource_servers
            .iter()
            .find(|r| r.identifier == identifier);
        Ok(found.cloned().map(Arc::new))
    }

    async fn org_resources(&self, org_id: &str) -> StoreResult<Arc<OrgResources>> {
        Ok(Arc::new(OrgResources::new(
            self.resource_servers(org_id).await?,
        )))
    }
}

impl OrganizationStore for MemoryStore {
    async fn create_organization(&self, org: &Organization, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        if t.organizations.iter().any(|o| o.name == org.name) {
            return Err(conflict("an organization with this name"));
        }
        t.organizations.push(org.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn organization(&self, id_or_name: &str) -> StoreResult<Option<Organization>> {
        let t = self.tables();
        let found = t
            .organizations
            .iter()
            .find(|o| o.id == id_or_name || o.name == id_or_name);
        Ok(found.cloned())
    }

    async fn organizations(&self, w: Window) -> StoreResult<Vec<Organization>> {
        let mut all = self.tables().organizations.clone();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(window(all.into_iter(), w))
    }

    async fn organizations_of_user(
        &self,
        user_id: &str,
        w: Window,
    ) -> StoreResult<Vec<Organization>> {
        let t = self.tables();
        if !t.enabled(user_id) {
            return Ok(Vec::new());
        }
        let mut orgs: Vec<Organization> = t
            .organizations
            .iter()
            .filter(|o| {
                t.memberships
                    .iter()
                    .any(|(m, u, _)| *m == o.id && u == user_id)
            })
            .cloned()
            .collect();
        orgs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(window(orgs.into_iter(), w))
    }
}

impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        if t.users.iter().any(|u| u.email == user.email) {
            return Err(conflict("a user with this email"));
        }
        t.users.push(user.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(self
            .tables()
            .users
            .iter()
            .find(|u| u.email == email)
            .cloned())
    }

    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        Ok(self.tables().user(id).cloned())
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(user) = t.users.iter_mut().find(|u| u.id == user_id) {
            user.password_hash = password_hash.to_string();
        }
        t.sessions
            .retain(|s| s.user_id != user_id || Some(s.id_hash.as_str()) == keep_session);
        for reset in t.password_resets.iter_mut() {
            if reset.user_id == user_id && reset.used_at.is_none() {
                reset.used_at = Some(audit.at);
            }
        }
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(user) = t.users.iter_mut().find(|u| u.id == user_id) {
            user.disabled_at = disabled_at;
        }
        t.audit.push(audit.clone());
        Ok(())
    }
}

impl MemberStore for MemoryStore {
    async fn put_membership(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let put = |all: &mut Vec<(String, String, Role)>| {
            all.retain(|(o, u, _)| !(o == org_id && u == user_id));
            all.push((org_id.into(), user_id.into(), role));
        };
        Ok(self.tables().change_membership(org_id, user_id, put, audit))
    }

    async fn delete_membership(
        &self,
        org_id: &str,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let mut t = self.tables();
        if !t
            .memberships
            .iter()
            .any(|(o, u, _)| o == org_id && u == user_id)
        {
            return Ok(MembershipChange::NoSuchMember);
        }
        let remove = |all: &mut Vec<(String, String, Role)>| {
            all.retain(|(o, u, _)| !(o == org_id && u == user_id));
        };
        Ok(t.change_membership(org_id, user_id, remove, audit))
    }

    async fn memberships_of_user(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let t = self.tables();
        if !t.enabled(user_id) {
            return Ok(Vec::new());
        }
        let mut found: Vec<Membership> = t
            .memberships
            .iter()
            .filter(|(_, u, _)| u == user_id)
            .map(|m| t.membership(m))
            .collect();
        found.sort_by(|a, b| a.org_name.cmp(&b.org_name));
        Ok(found)
    }

    async fn membership(&self, org_id: &str, user_id: &str) -> StoreResult<Option<Membership>> {
        let t = self.tables();
        let found = t
            .memberships
            .iter()
            .find(|(o, u, _)| o == org_id && u == user_id && t.enabled(u));
        Ok(found.map(|m| t.membership(m)))
    }

    async fn member(&self, org_id: &str, user: &str) -> StoreResult<Option<Membership>> {
        let t = self.tables();
        let email = user.trim().to_lowercase();
        let found = t
            .memberships
            .iter()
            .map(|m| t.membership(m))
            .find(|m| m.org_id == org_id && (m.user_id == user || m.email == email));
        Ok(found)
    }

    async fn members_of_org(&self, org_id: &str, w: Window) -> StoreResult<Vec<Membership>> {
        let t = self.tables();
        let mut found: Vec<Membership> = t
            .memberships
            .iter()
            .filter(|(o, _, _)| o == org_id)
            .map(|m| t.membership(m))
            .collect();
        found.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(window(found.into_iter(), w))
    }
}

impl ResourceServerStore for MemoryStore {
    async fn create_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if t.resource_servers
            .iter()
            .any(|r| r.identifier == rs.identifier)
        {
            return Err(conflict("a resource server with this identifier"));
        }
        t.resource_servers.push(rs.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn resource_servers(&self, org_id: &str) -> StoreResult<Vec<ResourceServer>> {
        let mut found: Vec<ResourceServer> = self
            .tables()
            .resource_servers
            .iter()
            .filter(|r| r.org_id == org_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        Ok(found)
    }

    async fn scope_declared(&self, scope: &str) -> StoreResult<bool> {
        let t = self.tables();
        Ok(t.resource_servers
            .iter()
            .any(|r| r.scopes.iter().any(|s| s.name == scope)))
    }

    async fn update_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(found) = t.resource_servers.iter_mut().find(|r| r.id == rs.id) {
            found.name = rs.name.clone();
            found.scopes = rs.scopes.clone();
        }
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn delete_resource_server(&self, id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.resource_servers.retain(|r| r.id != id);
        t.audit.push(audit.clone());
        Ok(())
    }
}

impl AppStore for MemoryStore {
    async fn create_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.apps.push(app.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn delete_app(&self, client_id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.apps.retain(|a| a.client_id != client_id);
        t.org_grants.retain(|g| g.client_id != client_id);
        t.consents.retain(|c| c.client_id != client_id);
        t.grants.retain(|_, (g, _)| g.client_id != client_id);
        t.codes.retain(|_, (c, _)| c.client_id != client_id);
        t.refresh_tokens
            .retain(|_, (r, _)| r.client_id != client_id);
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn update_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(found) = t.apps.iter_mut().find(|a| a.client_id == app.client_id) {
            *found = app.clone();
        }
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let t = self.tables();
        Ok(t.apps.iter().find(|a| a.client_id == client_id).cloned())
    }

    async fn apps(&self, org_id: &str, w: Window) -> StoreResult<Vec<App>> {
        let mut found: Vec<App> = self
            .tables()
            .apps
            .iter()
            .filter(|a| a.org_id == org_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| (&a.name, &a.client_id).cmp(&(&b.name, &b.client_id)));
        Ok(window(found.into_iter(), w))
    }

    async fn set_app_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_hash: Option<&str>,
        previous_expires_at: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(app) = t.apps.iter_mut().find(|a| a.client_id == client_id) {
            app.secret_hash = Some(secret_hash.into());
            app.previous_secret_hash = previous_hash.map(str::to_string);
            app.previous_secret_expires_at = previous_expires_at;
        }
        t.audit.push(audit.clone());
        Ok(())
    }
}

impl AddedAppStore for MemoryStore {
    async fn put_org_grant(&self, grant: &OrgAccessGrant, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.org_grants
            .retain(|g| !(g.org_id == grant.org_id && g.client_id == grant.client_id));
        t.org_grants.push(grant.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn org_grants(&self, client_id: &str) -> StoreResult<Vec<OrgAccessGrant>> {
        let t = self.tables();
        let found = t.org_grants.iter().filter(|g| g.client_id == client_id);
        Ok(found.cloned().collect())
    }

    async fn org_grants_of_org(&self, org_id: &str, w: Window) -> StoreResult<Vec<OrgAccessGrant>> {
        let mut found: Vec<OrgAccessGrant> = self
            .tables()
            .org_grants
            .iter()
            .filter(|g| g.org_id == org_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(window(found.into_iter(), w))
    }

    async fn org_grants_of_apps(
        &self,
        org_id: &str,
        w: Window,
    ) -> StoreResult<Vec<OrgAccessGrant>> {
        let apps = self.apps(org_id, w).await?;
        let t = self.tables();
        let found = t
            .org_grants
            .iter()
            .filter(|g| apps.iter().any(|a| a.client_id == g.client_id));
        Ok(found.cloned().collect())
    }

    async fn delete_org_grant(
        &self,
        org_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let before = t.org_grants.len();
        t.org_grants
            .retain(|g| !(g.org_id == org_id && g.client_id == client_id));
        let removed = t.org_grants.len() < before;
        if removed {
            t.audit.push(audit.clone());
        }
        Ok(removed)
    }
}

impl AuditLog for MemoryStore {
    async fn append_audit_event(&self, event: &AuditEvent) -> StoreResult<()> {
        self.tables().audit.push(event.clone());
        Ok(())
    }

    async fn audit_events(&self, org_id: &str, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let t = self.tables();
        let matches = |e: &&AuditEvent| {
            e.org_id.as_deref() == Some(org_id)
                && query.actor.as_ref().is_none_or(|a| *a == e.actor)
                && query.action.as_ref().is_none_or(|a| a == e.action.as_str())
                && query.target.as_ref().is_none_or(|a| *a == e.target)
                && query.since.is_none_or(|s| e.at >= s)
                && query.until.is_none_or(|u| e.at <= u)
                && query
                    .before
                    .as_ref()
                    .is_none_or(|b| (e.at, &e.id) < (b.at, &b.id))
        };
        let mut found: Vec<AuditEvent> = t.audit.iter().filter(matches).cloned().collect();
        found.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
        found.truncate(usize::try_from(query.limit).unwrap_or(0));
        Ok(found)
    }
}

impl ApiTokenStore for MemoryStore {
    async fn create_api_token(&self, token: &ApiToken, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.api_tokens.push(token.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn api_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
        let t = self.tables();
        let found = t.api_tokens.iter().filter(|a| a.user_id == user_id);
        Ok(found.cloned().collect())
    }

    async fn api_token_holder(&self, token_hash: &str) -> StoreResult<Option<ApiTokenHolder>> {
        let t = self.tables();
        let Some(token) = t.api_tokens.iter().find(|a| a.token_hash == token_hash) else {
            return Ok(None);
        };
        let user = t.user(&token.user_id).map(|u| HolderStanding {
            disabled: u.disabled_at.is_some(),
            platform_admin: u.platform_admin,
            role: t
                .memberships
                .iter()
                .find(|(o, m, _)| *o == token.org_id && *m == u.id)
                .map(|(_, _, role)| *role),
        });
        Ok(Some(ApiTokenHolder {
            token: token.clone(),
            user,
        }))
    }

    async fn api_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self
            .tables()
            .api_tokens
            .iter()
            .find(|a| a.id == id)
            .cloned())
    }

    async fn revoke_api_token(&self, id: &str, now: i64, audit: &AuditEvent) -> StoreResult<bool> {
        let mut t = self.tables();
        let Some(token) = t
            .api_tokens
            .iter_mut()
            .find(|a| a.id == id && a.revoked_at.is_none())
        else {
            return Ok(false);
        };
        token.revoked_at = Some(now);
        t.audit.push(audit.clone());
        Ok(true)
    }

    async fn touch_api_token(&self, id: &str, now: i64) -> StoreResult<()> {
        if let Some(token) = self.tables().api_tokens.iter_mut().find(|a| a.id == id) {
            token.last_used_at = Some(now);
        }
        Ok(())
    }
}

impl InvitationStore for MemoryStore {
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        t.invitations.push(invitation.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn invitation_by_hash(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let t = self.tables();
        let found = t.invitations.iter().find(|i| i.token_hash == token_hash);
        Ok(found.cloned())
    }

    async fn pending_invitations(&self, org_id: &str) -> StoreResult<Vec<Invitation>> {
        let t = self.tables();
        let mut found: Vec<Invitation> = t
            .invitations
            .iter()
            .filter(|i| i.org_id == org_id && i.accepted_at.is_none())
            .cloned()
            .collect();
        found.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        Ok(found)
    }

    async fn accept_invitation(
        &self,
        invitation: &Invitation,
        user_id: &str,
        new_user: Option<&User>,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let Some(open) = t
            .invitations
            .iter_mut()
            .find(|i| i.id == invitation.id && i.accepted_at.is_none() && i.expires_at > now)
        else {
            return Ok(false);
        };
        open.accepted_at = Some(now);
        if let Some(user) = new_user {
            t.users.push(user.clone());
        }
        let org_id = &invitation.org_id;
        if !t
            .memberships
            .iter()
            .any(|(o, u, _)| o == org_id && u == user_id)
        {
            let member = (org_id.clone(), user_id.to_string(), invitation.role);
            t.memberships.push(member);
        }
        t.audit.push(audit.clone());
        Ok(true)
    }

    async fn delete_invitation(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let before = t.invitations.len();
        t.invitations
            .retain(|i| !(i.org_id == org_id && i.id == id && i.accepted_at.is_none()));
        let removed = t.invitations.len() < before;
        if removed {
            t.audit.push(audit.clone());
        }
        Ok(removed)
    }
}

impl GrantStore for MemoryStore {
    async fn create_grant(&self, grant: &GrantRecord) -> StoreResult<()> {
        let mut t = self.tables();
        t.grants.insert(grant.id.clone(), (grant.clone(), None));
        Ok(())
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool> {
        // As in SQL: a grant that no longer exists counts as revoked.
        let t = self.tables();
        Ok(t.grants
            .get(grant_id)
            .is_none_or(|(_, revoked)| revoked.is_some()))
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> StoreResult<()> {
        if let Some((_, revoked @ None)) = self.tables().grants.get_mut(grant_id) {
            *revoked = Some(now);
        }
        Ok(())
    }

    async fn revoke_grants_of(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        for (g, revoked) in self.tables().grants.values_mut() {
            if g.user_id == user_id && g.client_id == client_id && g.org_id == org_id {
                revoked.get_or_insert(now);
            }
        }
        Ok(())
    }

    async fn insert_code(&self, code: &CodeRecord) -> StoreResult<()> {
        let mut t = self.tables();
        t.codes.insert(code.code_hash.clone(), (code.clone(), None));
        Ok(())
    }

    async fn consume_code(&self, code_hash: &str, now: i64) -> StoreResult<SingleUse<CodeRecord>> {
        let grant_of: fn(&CodeRecord) -> &str = |c| &c.grant_id;
        Ok(Tables::use_once(
            &mut self.tables().codes,
            code_hash,
            now,
            grant_of,
        ))
    }

    async fn insert_refresh_token(&self, token: &RefreshRecord) -> StoreResult<()> {
        let mut t = self.tables();
        let row = (token.clone(), None);
        t.refresh_tokens.insert(token.token_hash.clone(), row);
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<SingleUse<RefreshRecord>> {
        let grant_of: fn(&RefreshRecord) -> &str = |r| &r.grant_id;
        let mut t = self.tables();
        Ok(Tables::use_once(
            &mut t.refresh_tokens,
            token_hash,
            now,
            grant_of,
        ))
    }

    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<(RefreshRecord, bool)>> {
        let t = self.tables();
        let found = t.refresh_tokens.get(token_hash);
        Ok(found.map(|(r, used)| (r.clone(), used.is_some())))
    }
}

impl ConsentStore for MemoryStore {
    async fn consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> StoreResult<Option<ConsentRecord>> {
        let t = self.tables();
        let found = t
            .consents
            .iter()
            .find(|c| c.user_id == user_id && c.client_id == client_id && c.org_id == org_id);
        Ok(found.cloned())
    }

    async fn put_consent(&self, consent: &ConsentRecord) -> StoreResult<()> {
        let mut t = self.tables();
        t.consents.retain(|c| {
            (&c.user_id, &c.client_id, &c.org_id)
                != (&consent.user_id, &consent.client_id, &consent.org_id)
        });
        t.consents.push(consent.clone());
        Ok(())
    }

    async fn consents_of_user(&self, user_id: &str) -> StoreResult<Vec<ConsentView>> {
        let t = self.tables();
        let views = t.consents.iter().filter(|c| c.user_id == user_id).map(|c| {
            let app = t.apps.iter().find(|a| a.client_id == c.client_id);
            ConsentView {
                consent: c.clone(),
                app_name: app.map(|a| a.name.clone()).unwrap_or_default(),
                org_name: t.org_name(&c.org_id),
            }
        });
        Ok(views.collect())
    }

    async fn delete_consent(
        &self,
        user_id: &str,
        client_id: &str,
        org_id: &str,
    ) -> StoreResult<()> {
        self.tables()
            .consents
            .retain(|c| !(c.user_id == user_id && c.client_id == client_id && c.org_id == org_id));
        Ok(())
    }
}

impl KeyStore for MemoryStore {
    async fn keys(&self) -> StoreResult<Vec<StoredKey>> {
        Ok(self.tables().keys.clone())
    }

    async fn insert_key(&self, key: &StoredKey, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        // As in SQL: one `next` key per algorithm.
        if key.state == KeyState::Next
            && t.keys
                .iter()
                .any(|k| k.alg == key.alg && k.state == KeyState::Next)
        {
            return Err(conflict("a next key for this algorithm"));
        }
        t.keys.push(key.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn update_key(
        &self,
        kid: &str,
        state: KeyState,
        remove_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(key) = t.keys.iter_mut().find(|k| k.kid == kid) {
            key.state = state;
            key.remove_at = remove_at;
        }
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn delete_key(&self, kid: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.keys.retain(|k| k.kid != kid);
        t.audit.push(audit.clone());
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.tables().sessions.push(session.clone());
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let t = self.tables();
        Ok(t.sessions.iter().find(|s| s.id_hash == id_hash).cloned())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.tables().sessions.retain(|s| s.id_hash != id_hash);
        Ok(())
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(s) = t.sessions.iter_mut().find(|s| s.id_hash == id_hash) {
            s.last_seen_at = now;
        }
        Ok(())
    }

    async fn sessions_of_user(
        &self,
        user_id: &str,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        let t = self.tables();
        let mut live: Vec<SessionRecord> = t
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id && s.expires_at > now)
            .cloned()
            .collect();
        live.sort_by(|a, b| b.auth_time.cmp(&a.auth_time).then(b.handle.cmp(&a.handle)));
        live.truncate(limit as usize);
        Ok(live)
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        handle: Option<&str>,
        keep: &str,
        audit: &AuditEvent,
    ) -> StoreResult<u64> {
        let mut t = self.tables();
        let before = t.sessions.len();
        t.sessions.retain(|s| {
            s.user_id != user_id || s.id_hash == keep || handle.is_some_and(|h| s.handle != h)
        });
        let ended = (before - t.sessions.len()) as u64;
        if ended > 0 {
            t.audit.push(audit.clone());
        }
        Ok(ended)
    }
}

impl DeviceCodeStore for MemoryStore {
    async fn insert_device_code(
        &self,
        code: &DeviceCodeRecord,
        max_pending: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let live = |c: &&DeviceCodeRecord| !c.consumed && c.expires_at > now;
        if t.device_codes
            .values()
            .any(|c| c.user_code_hash == code.user_code_hash)
        {
            return Err(conflict("a device authorization with this user code"));
        }
        let pending = t
            .device_codes
            .values()
            .filter(|c| c.client_id == code.client_id)
            .filter(live)
            .count();
        if i64::try_from(pending).unwrap_or(i64::MAX) >= max_pending {
            return Ok(false);
        }
        t.device_codes
            .insert(code.device_code_hash.clone(), code.clone());
        Ok(true)
    }

    async fn device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCodeRecord>> {
        Ok(self.tables().device_codes.get(device_code_hash).cloned())
    }

    async fn pending_device_code(
        &self,
        user_code_hash: &str,
        now: i64,
    ) -> StoreResult<Option<DeviceCodeRecord>> {
        let t = self.tables();
        let found = t.device_codes.values().find(|c| {
            c.user_code_hash == user_code_hash && c.decision.is_none() && c.expires_at > now
        });
        Ok(found.cloned())
    }

    async fn record_device_poll(
        &self,
        device_code_hash: &str,
        now: i64,
        interval: i64,
    ) -> StoreResult<()> {
        if let Some(c) = self.tables().device_codes.get_mut(device_code_hash) {
            c.last_polled_at = Some(now);
            c.interval = interval;
        }
        Ok(())
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let found = t.device_codes.values_mut().find(|c| {
            c.user_code_hash == user_code_hash && c.decision.is_none() && c.expires_at > now
        });
        Ok(found.map(|c| c.decision = Some(decision.clone())).is_some())
    }

    async fn consume_device_code(
        &self,
        device_code_hash: &str,
        _now: i64,
    ) -> StoreResult<SingleUse<DeviceCodeRecord>> {
        let mut t = self.tables();
        let Some(c) = t.device_codes.get_mut(device_code_hash) else {
            return Ok(SingleUse::Unknown);
        };
        let grant_id = match &c.decision {
            Some(DeviceDecision::Approved(a)) => a.grant_id.clone(),
            _ => return Ok(SingleUse::Unknown),
        };
        if c.consumed {
            return Ok(SingleUse::Reused { grant_id });
        }
        c.consumed = true;
        Ok(SingleUse::Fresh(c.clone()))
    }
}

impl crate::store::PushedRequestStore for MemoryStore {
    async fn insert_pushed_request(
        &self,
        request: &crate::store::PushedRequestRecord,
        max_live: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let live = t
            .pushed_requests
            .values()
            .filter(|(r, used)| !used && r.client_id == request.client_id && r.expires_at > now)
            .count();
        if i64::try_from(live).unwrap_or(i64::MAX) >= max_live {
            return Ok(false);
        }
        t.pushed_requests
            .insert(request.request_uri_hash.clone(), (request.clone(), false));
        Ok(true)
    }

    async fn consume_pushed_request(
        &self,
        request_uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<crate::store::PushedRequestRecord>> {
        let mut t = self.tables();
        match t.pushed_requests.get_mut(request_uri_hash) {
            Some((r, used)) if !*used && r.client_id == client_id && r.expires_at > now => {
                *used = true;
                Ok(Some(r.clone()))
            }
            _ => Ok(None),
        }
    }
}

impl ThrottleStore for MemoryStore {
    async fn failures(&self, key: &str) -> StoreResult<Option<(i64, i64)>> {
        Ok(self.tables().failures.get(key).copied())
    }

    async fn count_attempt(
        &self,
        key: &str,
        seen: Option<(i64, i64)>,
        now: i64,
        window: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        if t.failures.get(key).copied() != seen {
            return Ok(false);
        }
        let failures = match seen {
            Some((failures, last)) if last >= now - window => failures + 1,
            _ => 1,
        };
        t.failures.insert(key.to_string(), (failures, now));
        Ok(true)
    }

    async fn refund_attempt(&self, key: &str) -> StoreResult<()> {
        if let Some((failures, _)) = self.tables().failures.get_mut(key) {
            *failures = (*failures - 1).max(0);
        }
        Ok(())
    }

    async fn record_failure(&self, key: &str, now: i64, window: i64) -> StoreResult<i64> {
        let mut t = self.tables();
        let failures = match t.failures.get(key) {
            Some((failures, last)) if *last >= now - window => failures + 1,
            _ => 1,
        };
        t.failures.insert(key.to_string(), (failures, now));
        Ok(failures)
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.tables().failures.remove(key);
        Ok(())
    }
}

impl PasswordResetStore for MemoryStore {
    async fn create_password_reset(
        &self,
        reset: &PasswordReset,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        t.password_resets.push(reset.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>> {
        let t = self.tables();
        let found = t
            .password_resets
            .iter()
            .find(|r| r.token_hash == token_hash);
        Ok(found.cloned())
    }

    async fn use_password_reset(
        &self,
        reset: &PasswordReset,
        password_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let open = t
            .password_resets
            .iter()
            .any(|r| r.token_hash == reset.token_hash && r.used_at.is_none() && r.expires_at > now);
        if !open {
            return Ok(false);
        }
        for r in t.password_resets.iter_mut() {
            if r.user_id == reset.user_id && r.used_at.is_none() {
                r.used_at = Some(now);
            }
        }
        if let Some(user) = t.users.iter_mut().find(|u| u.id == reset.user_id) {
            user.password_hash = password_hash.to_string();
        }
        t.sessions.retain(|s| s.user_id != reset.user_id);
        t.audit.push(audit.clone());
        Ok(true)
    }
}

impl SecondFactorStore for MemoryStore {
    async fn totp(&self, user_id: &str) -> StoreResult<Option<TotpRecord>> {
        Ok(self.tables().totp.get(user_id).cloned())
    }

    async fn start_totp(&self, record: &TotpRecord) -> StoreResult<()> {
        let mut t = self.tables();
        let confirmed = t
            .totp
            .get(&record.user_id)
            .is_some_and(|r| r.confirmed_at.is_some());
        if !confirmed {
            t.totp.insert(record.user_id.clone(), record.clone());
        }
        Ok(())
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_hashes: &[String],
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let Some(record) = t.totp.get_mut(user_id).filter(|r| r.confirmed_at.is_none()) else {
            return Ok(false);
        };
        record.confirmed_at = Some(audit.at);
        record.last_step = step;
        t.recovery_codes.retain(|(u, _, _)| u != user_id);
        for hash in recovery_hashes {
            t.recovery_codes
                .push((user_id.to_string(), hash.clone(), None));
        }
        t.audit.push(audit.clone());
        Ok(true)
    }

    async fn accept_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let mut t = self.tables();
        match t
            .totp
            .get_mut(user_id)
            .filter(|r| r.confirmed_at.is_some() && r.last_step < step)
        {
            Some(record) => {
                record.last_step = step;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let found = t
            .recovery_codes
            .iter_mut()
            .find(|(u, h, used)| u == user_id && h == code_hash && used.is_none());
        Ok(found.map(|(_, _, used)| *used = Some(now)).is_some())
    }

    async fn recovery_codes_left(&self, user_id: &str) -> StoreResult<i64> {
        let t = self.tables();
        let left = t
            .recovery_codes
            .iter()
            .filter(|(u, _, used)| u == user_id && used.is_none())
            .count();
        Ok(i64::try_from(left).unwrap_or(i64::MAX))
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_hashes: &[String],
        _now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        t.recovery_codes.retain(|(u, _, _)| u != user_id);
        for hash in recovery_hashes {
            t.recovery_codes
                .push((user_id.to_string(), hash.clone(), None));
        }
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn remove_totp(&self, user_id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut t = self.tables();
        t.totp.remove(user_id);
        t.recovery_codes.retain(|(u, _, _)| u != user_id);
        t.audit.push(audit.clone());
        Ok(())
    }
}
