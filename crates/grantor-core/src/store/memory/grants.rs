//! Grants, consents and signing keys.

use super::*;

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
