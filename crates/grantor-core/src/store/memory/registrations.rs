//! Dynamic registrations in memory: a bound registration lives as long as its app, as the
//! foreign key makes it in SQL.

use super::{MemoryStore, StoreResult};
use crate::model::{App, AuditEvent};
use crate::store::{Binding, RegistrationRecord, RegistrationStore};

impl MemoryStore {
    fn registered_apps(&self, org_id: &str) -> i64 {
        let t = self.tables();
        let count = t
            .registrations
            .values()
            .filter(|r| r.bound)
            .filter(|r| {
                t.apps
                    .iter()
                    .any(|a| a.client_id == r.client_id && a.org_id == org_id)
            })
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }
}

impl RegistrationStore for MemoryStore {
    async fn registration(
        &self,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<RegistrationRecord>> {
        let t = self.tables();
        Ok(t.registrations
            .get(client_id)
            .filter(|r| {
                if r.bound {
                    t.apps.iter().any(|a| a.client_id == client_id)
                } else {
                    r.expires_at > now
                }
            })
            .cloned())
    }

    async fn insert_pending_registration(
        &self,
        record: &RegistrationRecord,
        max_pending: i64,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let pending = t
            .registrations
            .values()
            .filter(|r| !r.bound && r.expires_at > now)
            .count();
        if i64::try_from(pending).unwrap_or(i64::MAX) >= max_pending {
            return Ok(false);
        }
        t.registrations
            .insert(record.client_id.clone(), record.clone());
        t.audit.push(audit.clone());
        Ok(true)
    }

    async fn update_pending_registration(
        &self,
        client_id: &str,
        metadata: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        match t.registrations.get_mut(client_id) {
            Some(r) if !r.bound && r.expires_at > now => {
                r.metadata = metadata.to_string();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_pending_registration(&self, client_id: &str, now: i64) -> StoreResult<bool> {
        let mut t = self.tables();
        let pending = t
            .registrations
            .get(client_id)
            .is_some_and(|r| !r.bound && r.expires_at > now);
        if pending {
            t.registrations.remove(client_id);
        }
        Ok(pending)
    }

    async fn bind_registration(
        &self,
        app: &App,
        now: i64,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> StoreResult<Binding> {
        if self.registered_apps(&app.org_id) >= max_per_org {
            return Ok(Binding::Full);
        }
        let mut t = self.tables();
        match t.registrations.get_mut(&app.client_id) {
            Some(r) if !r.bound && r.expires_at > now => r.bound = true,
            _ => return Ok(Binding::Gone),
        }
        t.apps.push(app.clone());
        t.audit.push(audit.clone());
        Ok(Binding::Bound)
    }

    async fn register_app(
        &self,
        app: &App,
        record: &RegistrationRecord,
        max_per_org: i64,
        audit: &AuditEvent,
    ) -> StoreResult<Binding> {
        if self.registered_apps(&app.org_id) >= max_per_org {
            return Ok(Binding::Full);
        }
        let mut t = self.tables();
        t.apps.push(app.clone());
        t.registrations
            .insert(record.client_id.clone(), record.clone());
        t.audit.push(audit.clone());
        Ok(Binding::Bound)
    }

    async fn registration_ceiling(&self, org_id: &str) -> StoreResult<Option<String>> {
        Ok(self.tables().registration_openings.get(org_id).cloned())
    }

    async fn any_registration_open(&self) -> StoreResult<bool> {
        Ok(!self.tables().registration_openings.is_empty())
    }

    async fn set_registration_ceiling(
        &self,
        org_id: &str,
        scopes: Option<&str>,
        _now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        match scopes {
            Some(scopes) => {
                t.registration_openings
                    .insert(org_id.to_string(), scopes.to_string());
            }
            None => {
                t.registration_openings.remove(org_id);
            }
        }
        t.audit.push(audit.clone());
        Ok(())
    }
}
