//! Flows that wait on a user (device authorizations, pushed requests) and one-time proofs.

use super::*;

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

impl crate::store::ReplayStore for MemoryStore {
    async fn first_use(
        &self,
        scope: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let key = (scope.to_string(), jti.to_string());
        if t.used_jtis.get(&key).is_some_and(|until| *until >= now) {
            return Ok(false);
        }
        t.used_jtis.insert(key, expires_at);
        Ok(true)
    }
}
