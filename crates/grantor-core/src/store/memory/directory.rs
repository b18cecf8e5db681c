//! The directory: organizations, users, members, resource servers and apps.

use super::*;

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

    async fn set_require_second_factor(
        &self,
        org_id: &str,
        required: bool,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(org) = t.organizations.iter_mut().find(|o| o.id == org_id) {
            org.require_second_factor = required;
        }
        t.audit.push(audit.clone());
        Ok(())
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
        if disabled_at.is_some() {
            t.sessions.retain(|s| s.user_id != user_id);
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
