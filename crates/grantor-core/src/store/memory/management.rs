//! The management records: the audit log, API tokens and invitations.

use super::*;

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
        } else if invitation.mailed
            && let Some(user) = t
                .users
                .iter_mut()
                .find(|u| u.id == user_id && u.email == invitation.email)
        {
            user.email_verified_at.get_or_insert(now);
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
