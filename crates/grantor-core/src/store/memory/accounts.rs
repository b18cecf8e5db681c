//! Sign-in: sessions, throttles, password resets and second factors.

use super::*;

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

impl super::super::EmailVerificationStore for MemoryStore {
    async fn create_email_verification(
        &self,
        link: &crate::store::EmailVerification,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        t.email_verifications.push(link.clone());
        t.audit.push(audit.clone());
        Ok(())
    }

    async fn email_verification(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<crate::store::EmailVerification>> {
        let t = self.tables();
        let found = t
            .email_verifications
            .iter()
            .find(|l| l.token_hash == token_hash);
        Ok(found.cloned())
    }

    async fn use_email_verification(
        &self,
        link: &crate::store::EmailVerification,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut t = self.tables();
        let open = t
            .email_verifications
            .iter()
            .any(|l| l.token_hash == link.token_hash && l.used_at.is_none() && l.expires_at > now);
        if !open {
            return Ok(false);
        }
        for l in t.email_verifications.iter_mut() {
            if l.user_id == link.user_id && l.used_at.is_none() {
                l.used_at = Some(now);
            }
        }
        if let Some(user) = t
            .users
            .iter_mut()
            .find(|u| u.id == link.user_id && u.email == link.email)
        {
            user.email_verified_at = Some(now);
        }
        t.audit.push(audit.clone());
        Ok(true)
    }

    async fn set_email_verified(
        &self,
        user_id: &str,
        verified_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut t = self.tables();
        if let Some(user) = t.users.iter_mut().find(|u| u.id == user_id) {
            user.email_verified_at = verified_at;
        }
        t.audit.push(audit.clone());
        Ok(())
    }
}
