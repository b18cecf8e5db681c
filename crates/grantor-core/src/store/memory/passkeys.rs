//! Passkeys in memory.

use super::MemoryStore;
use crate::model::AuditEvent;
use crate::store::{PasskeyAdded, PasskeyRecord, PasskeyStore, StoreResult};

impl PasskeyStore for MemoryStore {
    async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let t = self.tables();
        Ok(t.passkeys
            .iter()
            .filter(|p| p.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let t = self.tables();
        let found = t.passkeys.iter().find(|p| p.credential_id == credential_id);
        Ok(found.cloned())
    }

    async fn add_passkey(
        &self,
        record: &PasskeyRecord,
        max: i64,
        audit: &AuditEvent,
    ) -> StoreResult<PasskeyAdded> {
        let mut t = self.tables();
        if t.passkeys
            .iter()
            .any(|p| p.credential_id == record.credential_id)
        {
            return Ok(PasskeyAdded::Duplicate);
        }
        let count = t
            .passkeys
            .iter()
            .filter(|p| p.user_id == record.user_id)
            .count();
        if i64::try_from(count).unwrap_or(i64::MAX) >= max {
            return Ok(PasskeyAdded::AtLimit);
        }
        t.passkeys.push(record.clone());
        t.audit.push(audit.clone());
        Ok(PasskeyAdded::Added)
    }

    async fn use_passkey(
        &self,
        id: &str,
        previous: i64,
        sign_count: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let Some(p) = t.passkeys.iter_mut().find(|p| p.id == id) else {
            return Ok(false);
        };
        let forward = p.sign_count == previous
            && (sign_count > previous || (sign_count == 0 && previous == 0));
        if forward {
            p.sign_count = sign_count;
            p.last_used_at = Some(now);
        }
        Ok(forward)
    }

    async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let before = t.passkeys.len();
        t.passkeys.retain(|p| !(p.id == id && p.user_id == user_id));
        let removed = t.passkeys.len() < before;
        if removed {
            t.audit.push(audit.clone());
        }
        Ok(removed)
    }
}
