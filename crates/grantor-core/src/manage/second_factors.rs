//! Second factors: a user enrols a TOTP authenticator (confirmed by its first code), gets ten
//! single-use recovery codes, and signs in with a code after their password.
//!
//! The secret is sealed under the key-encryption key, bound to the user's id, as private
//! signing keys are: a copy of the database alone does not yield anyone's codes. Recovery
//! codes carry 80 random bits, so their SHA-256 hashes are safe to store. Codes are
//! throttled per account like passwords, and an accepted step is remembered so the same
//! code cannot be used twice.

use super::{Governed, Manager};
use crate::jose::KeyEncryptionKey;
use crate::login::{self, LoginError};
use crate::model::{AuditAction, Caller};
use crate::store::{SecondFactorStore, ThrottleStore, TotpRecord, UserStore};
use crate::{CryptoError, ServiceError, secret, totp};
use serde_json::json;

/// Free wrong codes per account before delays start.
const FREE_CODES: i64 = 5;

/// An enrolment waiting for its first code: what the person copies into their app.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// The `otpauth://` URI, for the QR code.
    pub uri: String,
}

/// A user's second factors, as their account page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactors {
    pub email: String,
    pub totp: bool,
    pub recovery_codes_left: i64,
}

/// What a second step was passed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorUsed {
    Totp,
    RecoveryCode,
}

/// Why a code was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Not the current code, one already used, or not a recovery code of this account.
    Invalid,
    /// Too many wrong codes; try again after this many seconds.
    Throttled(i64),
    /// Too many checks at this moment; try again shortly.
    Busy,
    Service(ServiceError),
}

impl<E: Into<ServiceError>> From<E> for CodeError {
    fn from(e: E) -> Self {
        Self::Service(e.into())
    }
}

impl CodeError {
    /// The refusal as the account page's `code` field shows it.
    fn into_field(self) -> ServiceError {
        match self {
            Self::Invalid => {
                ServiceError::field("code", "the code is incorrect or was already used")
            }
            Self::Throttled(wait) => ServiceError::field(
                "code",
                format!("too many wrong codes; try again in {wait} seconds"),
            ),
            Self::Busy => super::passwords::busy(),
            Self::Service(e) => e,
        }
    }
}

fn aad(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn sealing(e: impl std::fmt::Debug) -> ServiceError {
    CryptoError(format!("sealing a TOTP secret: {e:?}")).into()
}

/// Fresh recovery codes and their hashes.
fn recovery_codes() -> Result<(Vec<String>, Vec<String>), ServiceError> {
    let codes = totp::new_recovery_codes()?;
    let hashes = codes.iter().map(|c| secret::hash(c)).collect();
    Ok((codes, hashes))
}

/// Whether `user_id` has a second factor set up: the one place that says so, for the
/// sign-in pages, the authorization endpoint and the token exchange alike.
pub async fn enrolled<S: SecondFactorStore + crate::store::PasskeyStore>(
    store: &S,
    user_id: &str,
) -> Result<bool, crate::StoreError> {
    Ok(totp_confirmed(store, user_id).await? || !store.passkeys(user_id).await?.is_empty())
}

async fn totp_confirmed<S: SecondFactorStore>(
    store: &S,
    user_id: &str,
) -> Result<bool, crate::StoreError> {
    let record = store.totp(user_id).await?;
    Ok(record.is_some_and(|r| r.confirmed_at.is_some()))
}

impl<S: Governed + UserStore + ThrottleStore + SecondFactorStore + crate::store::PasskeyStore>
    Manager<S>
{
    /// Whether `user_id` signs in with a second factor after their password (TOTP or a
    /// passkey).
    pub async fn has_second_factor(&self, user_id: &str) -> Result<bool, ServiceError> {
        Ok(enrolled(&self.store, user_id).await?)
    }

    /// Whether `user_id` has a confirmed authenticator app (TOTP).
    pub async fn has_totp(&self, user_id: &str) -> Result<bool, ServiceError> {
        Ok(totp_confirmed(&self.store, user_id).await?)
    }

    /// Whether organization `org_id` requires a second factor (`None`: it does not) and, if
    /// so, whether `user_id` has one set up.
    pub async fn second_factor_rule(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> Result<Option<bool>, ServiceError> {
        match self.store.organization(org_id).await? {
            Some(org) if org.require_second_factor => {
                Ok(Some(self.has_second_factor(user_id).await?))
            }
            _ => Ok(None),
        }
    }

    /// Which of `members` (of one organization, as [`Manager::members`] listed them) have a
    /// second factor set up, for a caller who may manage the organization's members; `None`
    /// for anyone else.
    pub async fn members_second_factors(
        &self,
        actor: &Caller,
        members: &[crate::model::Membership],
    ) -> Result<Option<Vec<bool>>, ServiceError> {
        let Some(org_id) = members.first().map(|m| m.org_id.as_str()) else {
            return Ok(Some(Vec::new()));
        };
        let role = self.role_of(&actor.actor, org_id).await?;
        if crate::policy::check(
            actor,
            crate::policy::Action::ManageMembers,
            Some(org_id),
            role,
        )
        .is_err()
        {
            return Ok(None);
        }
        let mut factors = Vec::with_capacity(members.len());
        for m in members {
            factors.push(self.has_second_factor(&m.user_id).await?);
        }
        Ok(Some(factors))
    }

    /// The signed-in user's second factors.
    pub async fn second_factors(&self, actor: &Caller) -> Result<SecondFactors, ServiceError> {
        let user = self.own_account(actor).await?;
        Ok(SecondFactors {
            totp: totp_confirmed(&self.store, &user.id).await?,
            recovery_codes_left: self.store.recovery_codes_left(&user.id).await?,
            email: user.email,
        })
    }

    /// The pending TOTP enrolment of the signed-in user, started now if there is none: the
    /// same secret until it is confirmed, so reloading the page does not change the QR code.
    pub async fn totp_enrolment(
        &self,
        actor: &Caller,
        kek: &KeyEncryptionKey,
    ) -> Result<TotpEnrolment, ServiceError> {
        let user = self.own_account(actor).await?;
        let secret = match self.store.totp(&user.id).await? {
            Some(r) if r.confirmed_at.is_some() => {
                return Err(ServiceError::Conflict(
                    "an authenticator is already set up; remove it first".into(),
                ));
            }
            Some(r) => kek
                .open(&aad(&user.id), &r.sealed_secret)
                .map_err(sealing)?,
            None => {
                let fresh = totp::new_secret()?;
                let record = TotpRecord {
                    user_id: user.id.clone(),
                    sealed_secret: kek.seal(&aad(&user.id), &fresh).map_err(sealing)?,
                    created_at: self.clock.now(),
                    confirmed_at: None,
                    last_step: 0,
                };
                self.store.start_totp(&record).await?;
                fresh.to_vec()
            }
        };
        let service = url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "Grantor".into());
        Ok(TotpEnrolment {
            secret: totp::base32(&secret),
            uri: totp::uri(&secret, &service, &user.email),
        })
    }

    /// Confirms the pending enrolment with its first code; returns the ten recovery codes,
    /// shown this once.
    pub async fn confirm_totp(
        &self,
        actor: &Caller,
        kek: &KeyEncryptionKey,
        code: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let user = self.own_account(actor).await?;
        let pending = self
            .store
            .totp(&user.id)
            .await?
            .filter(|r| r.confirmed_at.is_none())
            .ok_or_else(|| ServiceError::Conflict("there is no set-up to confirm".into()))?;
        let secret = kek
            .open(&aad(&user.id), &pending.sealed_secret)
            .map_err(sealing)?;
        let step = self
            .throttled(&user.id, || async {
                Ok(totp::verify(
                    &secret,
                    code,
                    self.clock.now(),
                    pending.last_step,
                ))
            })
            .await
            .map_err(CodeError::into_field)?;
        let (codes, hashes) = recovery_codes()?;
        let audit = self.audit(
            actor,
            AuditAction::UserEnrolTotp,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        if self
            .store
            .confirm_totp(&user.id, step, &hashes, &audit)
            .await?
        {
            Ok(codes)
        } else {
            Err(ServiceError::Conflict(
                "there is no set-up to confirm".into(),
            ))
        }
    }

    /// Removes the user's authenticator and recovery codes, given a fresh code (or an unused
    /// recovery code, for someone who lost the device).
    pub async fn remove_totp(
        &self,
        actor: &Caller,
        kek: &KeyEncryptionKey,
        code: &str,
    ) -> Result<(), ServiceError> {
        let user = self.own_account(actor).await?;
        self.check_code(&user.id, kek, code)
            .await
            .map_err(CodeError::into_field)?;
        let audit = self.audit(
            actor,
            AuditAction::UserRemoveTotp,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        self.store.remove_totp(&user.id, &audit).await?;
        Ok(())
    }

    /// Replaces the user's recovery codes, given a fresh code; returns the new ones.
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Caller,
        kek: &KeyEncryptionKey,
        code: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let user = self.own_account(actor).await?;
        self.check_code(&user.id, kek, code)
            .await
            .map_err(CodeError::into_field)?;
        let (codes, hashes) = recovery_codes()?;
        let audit = self.audit(
            actor,
            AuditAction::UserRegenerateRecoveryCodes,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        self.store
            .replace_recovery_codes(&user.id, &hashes, self.clock.now(), &audit)
            .await?;
        Ok(codes)
    }

    /// The second step of a sign-in: a current code of the user's authenticator or one of
    /// their unused recovery codes, throttled per account; either is used up.
    pub async fn check_second_factor(
        &self,
        user_id: &str,
        kek: &KeyEncryptionKey,
        code: &str,
    ) -> Result<SecondFactorUsed, CodeError> {
        self.check_code(user_id, kek, code).await
    }

    async fn check_code(
        &self,
        user_id: &str,
        kek: &KeyEncryptionKey,
        code: &str,
    ) -> Result<SecondFactorUsed, CodeError> {
        let record = self
            .store
            .totp(user_id)
            .await?
            .filter(|r| r.confirmed_at.is_some())
            .ok_or(CodeError::Invalid)?;
        let secret = kek
            .open(&aad(user_id), &record.sealed_secret)
            .map_err(sealing)?;
        let now = self.clock.now();
        self.throttled(user_id, || async {
            if let Some(step) = totp::verify(&secret, code, now, record.last_step) {
                // Of two requests with the same code, only one moves the step on.
                let taken = self.store.accept_totp_step(user_id, step).await?;
                return Ok(taken.then_some(SecondFactorUsed::Totp));
            }
            let Some(recovery) = totp::normalize_recovery_code(code) else {
                return Ok(None);
            };
            let used = self
                .store
                .use_recovery_code(user_id, &secret::hash(&recovery), now)
                .await?;
            Ok(used.then_some(SecondFactorUsed::RecoveryCode))
        })
        .await
    }

    /// Runs `check` behind the account's code throttle: the attempt is counted before it
    /// runs, and forgiven only if it passes.
    async fn throttled<T, F, Fut>(&self, user_id: &str, check: F) -> Result<T, CodeError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, ServiceError>>,
    {
        let key = login::second_factor_key(user_id);
        let now = self.clock.now();
        match login::reserve(&self.store, &key, FREE_CODES, now).await {
            Ok(_) => {}
            Err(LoginError::Throttled(wait)) => return Err(CodeError::Throttled(wait)),
            Err(LoginError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(CodeError::Busy),
        }
        match check().await? {
            Some(found) => {
                self.store.clear_failures(&key).await?;
                Ok(found)
            }
            None => Err(CodeError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::manage::tests::fields;
    use crate::testing::{World, ok};

    fn kek() -> KeyEncryptionKey {
        ok(KeyEncryptionKey::parse(&ok(
            KeyEncryptionKey::generate_encoded(),
        )))
    }

    /// The member, enrolled and confirmed; returns their secret and recovery codes.
    async fn enrolled(w: &World, kek: &KeyEncryptionKey) -> (Vec<u8>, Vec<String>) {
        let me = World::signed_in(&w.member);
        let enrolment = ok(w.manager.totp_enrolment(&me, kek).await);
        let secret = totp::from_base32(&enrolment.secret).unwrap();
        let code = totp::code(&secret, totp::step_at(w.clock.now()));
        let codes = ok(w.manager.confirm_totp(&me, kek, &code).await);
        // The next code is a fresh step's.
        w.clock.advance(totp::STEP);
        (secret, codes)
    }

    #[tokio::test]
    async fn owners_alone_see_who_has_a_second_factor_and_the_rule_applies_to_its_org() {
        let w = World::new().await;
        let kek = kek();
        enrolled(&w, &kek).await;
        let owner = World::signed_in(&w.owner);
        let members = ok(w
            .manager
            .members(&owner, &w.org.name, crate::store::Window::first(10))
            .await);
        let factors = ok(w.manager.members_second_factors(&owner, &members).await);
        let by_email: Vec<(&str, bool)> = members
            .iter()
            .map(|m| m.email.as_str())
            .zip(factors.unwrap_or_default())
            .collect();
        assert!(
            by_email.contains(&("member@acme.test", true)),
            "{by_email:?}"
        );
        assert!(
            by_email.contains(&("owner@acme.test", false)),
            "{by_email:?}"
        );
        for who in [&w.member, &w.developer] {
            let caller = World::signed_in(who);
            let seen = ok(w.manager.members_second_factors(&caller, &members).await);
            assert_eq!(seen, None, "{}", who.email);
        }
        assert_eq!(
            ok(w.manager.second_factor_rule(&w.org.id, &w.member.id).await),
            None
        );
        ok(w.manager
            .set_require_second_factor(&owner, &w.org.name, true)
            .await);
        assert_eq!(
            ok(w.manager.second_factor_rule(&w.org.id, &w.member.id).await),
            Some(true)
        );
        assert_eq!(
            ok(w.manager.second_factor_rule(&w.org.id, &w.owner.id).await),
            Some(false)
        );
        let trail = w.store.audit_trail();
        assert_eq!(
            trail.last().map(|e| e.action.as_str()),
            Some("organization.update")
        );
    }

    fn current(w: &World, secret: &[u8]) -> String {
        totp::code(secret, totp::step_at(w.clock.now()))
    }

    #[tokio::test]
    async fn enrolment_is_confirmed_by_a_first_code_and_audited() {
        let w = World::new().await;
        let kek = kek();
        let me = World::signed_in(&w.member);
        let first = ok(w.manager.totp_enrolment(&me, &kek).await);
        let again = ok(w.manager.totp_enrolment(&me, &kek).await);
        assert_eq!(first.secret, again.secret, "a reload shows the same secret");
        assert_eq!(first.secret.len(), 32);
        assert!(
            first
                .uri
                .starts_with("otpauth://totp/grantor%2Etest:member%40acme%2Etest?")
        );
        assert!(
            !ok(w.manager.has_second_factor(&w.member.id).await),
            "pending"
        );
        let stored = ok(w.store.totp(&w.member.id).await).unwrap();
        assert!(!stored.sealed_secret.contains(&first.secret));

        let wrong = w.manager.confirm_totp(&me, &kek, "000000").await;
        let secret = totp::from_base32(&first.secret).unwrap();
        if current(&w, &secret) != "000000" {
            assert_eq!(fields(wrong), ["code"]);
        }
        let codes = ok(w
            .manager
            .confirm_totp(&me, &kek, &current(&w, &secret))
            .await);
        assert_eq!(codes.len(), totp::RECOVERY_CODES);
        assert!(ok(w.manager.has_second_factor(&w.member.id).await));
        let factors = ok(w.manager.second_factors(&me).await);
        assert_eq!((factors.totp, factors.recovery_codes_left), (true, 10));
        let event = w.store.audit_trail().pop().unwrap();
        assert_eq!(event.action.as_str(), "user.enrol_totp");
        assert!(!event.details.to_string().contains(&first.secret));
        let twice = w.manager.totp_enrolment(&me, &kek).await;
        assert!(matches!(twice, Err(ServiceError::Conflict(_))), "{twice:?}");
        // The code that confirmed the enrolment cannot sign in too.
        let replayed = w
            .manager
            .check_second_factor(&w.member.id, &kek, &current(&w, &secret))
            .await;
        assert_eq!(replayed, Err(CodeError::Invalid));
    }

    #[tokio::test]
    async fn a_code_signs_in_once_within_its_window() {
        let w = World::new().await;
        let kek = kek();
        let (secret, _) = enrolled(&w, &kek).await;
        let m = &w.manager;
        let code = current(&w, &secret);
        let first = m.check_second_factor(&w.member.id, &kek, &code).await;
        assert_eq!(first, Ok(SecondFactorUsed::Totp));
        let replay = m.check_second_factor(&w.member.id, &kek, &code).await;
        assert_eq!(replay, Err(CodeError::Invalid), "replayed in its window");
        w.clock.advance(totp::STEP);
        let stale = m.check_second_factor(&w.member.id, &kek, &code).await;
        assert_eq!(stale, Err(CodeError::Invalid), "one step later, still used");
        let next = m
            .check_second_factor(&w.member.id, &kek, &current(&w, &secret))
            .await;
        assert_eq!(next, Ok(SecondFactorUsed::Totp));
        let other = m.check_second_factor(&w.owner.id, &kek, &code).await;
        assert_eq!(other, Err(CodeError::Invalid), "no authenticator, no code");
    }

    #[tokio::test]
    async fn a_recovery_code_works_once() {
        let w = World::new().await;
        let kek = kek();
        let (_, codes) = enrolled(&w, &kek).await;
        let m = &w.manager;
        let typed = codes[3].to_uppercase().replace('-', " ");
        let used = m.check_second_factor(&w.member.id, &kek, &typed).await;
        assert_eq!(used, Ok(SecondFactorUsed::RecoveryCode));
        let again = m.check_second_factor(&w.member.id, &kek, &codes[3]).await;
        assert_eq!(again, Err(CodeError::Invalid));
        let me = World::signed_in(&w.member);
        assert_eq!(ok(m.second_factors(&me).await).recovery_codes_left, 9);
    }

    #[tokio::test]
    async fn wrong_codes_are_throttled_like_passwords() {
        let w = World::new().await;
        let kek = kek();
        let (secret, _) = enrolled(&w, &kek).await;
        let right = current(&w, &secret);
        let wrong = if right == "123456" {
            "654321"
        } else {
            "123456"
        };
        let mut throttled = None;
        for _ in 0..20 {
            match w
                .manager
                .check_second_factor(&w.member.id, &kek, wrong)
                .await
            {
                Err(CodeError::Throttled(wait)) => {
                    throttled = Some(wait);
                    break;
                }
                Err(CodeError::Invalid) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(throttled.is_some_and(|s| s > 0), "guesses are slowed down");
        let held = w
            .manager
            .check_second_factor(&w.member.id, &kek, &right)
            .await;
        assert!(matches!(held, Err(CodeError::Throttled(_))), "{held:?}");
    }

    #[tokio::test]
    async fn removal_and_new_recovery_codes_need_a_fresh_code() {
        let w = World::new().await;
        let kek = kek();
        let (secret, codes) = enrolled(&w, &kek).await;
        let me = World::signed_in(&w.member);
        let m = &w.manager;
        let fresh = ok(m
            .regenerate_recovery_codes(&me, &kek, &current(&w, &secret))
            .await);
        assert_eq!(fresh.len(), 10);
        let old = m.check_second_factor(&w.member.id, &kek, &codes[0]).await;
        assert_eq!(old, Err(CodeError::Invalid), "the old codes are gone");
        assert_eq!(
            w.store.audit_trail().pop().unwrap().action.as_str(),
            "user.regenerate_recovery_codes"
        );
        let without = m.remove_totp(&me, &kek, "").await;
        assert_eq!(fields(without), ["code"]);
        assert!(ok(m.has_second_factor(&w.member.id).await));
        ok(m.remove_totp(&me, &kek, &fresh[0]).await);
        assert!(!ok(m.has_second_factor(&w.member.id).await));
        assert_eq!(ok(m.second_factors(&me).await).recovery_codes_left, 0);
        assert_eq!(
            w.store.audit_trail().pop().unwrap().action.as_str(),
            "user.remove_totp"
        );
    }

    #[tokio::test]
    async fn the_password_grant_refuses_an_account_with_a_second_factor() {
        use crate::model::AppType;
        use crate::params::Params;
        use crate::store::Registry;
        let w = World::new().await;
        let kek = kek();
        let op = Caller::operator();
        ok(w.manager
            .set_password(&op, &w.member.email, "member password")
            .await);
        let owner = World::signed_in(&w.owner);
        let new = crate::testing::new_app(AppType::Web, "Legacy", &["profile"])
            .legacy_grants([crate::model::LegacyGrant::Password]);
        let app = ok(w.manager.create_app(&owner, &w.org.name, new).await);
        let client = ok(w.store.client(&app.app.client_id).await).unwrap();
        let params = ok(Params::new(
            [
                ("grant_type", "password"),
                ("username", "member@acme.test"),
                ("password", "member password"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec(),
        ));
        let request = ok(crate::grant::password::Request::parse(&params));
        let peer = std::net::IpAddr::from([198, 51, 100, 7]);
        let before =
            crate::grant::password::exchange(&w.provider, &client, request.clone(), peer, None);
        let before = before.await;
        assert!(before.is_ok(), "{before:?}");
        enrolled(&w, &kek).await;
        let after =
            crate::grant::password::exchange(&w.provider, &client, request, peer, None).await;
        let why = crate::testing::refused(after);
        assert!(why.contains("second factor"), "{why}");
    }
}
