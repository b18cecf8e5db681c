//! Passkeys (WebAuthn): a signed-in user registers one or more, names them and removes them
//! (given their password); anyone signs in with one alone, or uses one after their password.
//!
//! The checks of the responses are in [`crate::webauthn`]; here each challenge is used up
//! (the replay store, until it would expire anyway), the count is moved forward atomically,
//! and every change is audited. Only public keys are stored.

use super::{Governed, Manager, passwords::busy, refuse_control_characters};
use crate::login::{self, LoginError};
use crate::model::{AuditAction, Caller};
use crate::password::PasswordChecker;
use crate::store::{
    PasskeyAdded, PasskeyRecord, PasskeyStore, ReplayStore, ThrottleStore, UserStore,
};
use crate::webauthn::{self, Challenge, RelyingParty, WebAuthnError};
use crate::{FieldErrors, ServiceError, secret};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};

/// Passkeys per account: enough for every device a person has, and a bound on the list that
/// each sign-in with a password then a passkey sends to the browser.
pub const MAX_PASSKEYS: i64 = 10;
/// Characters in a passkey's name.
pub const PASSKEY_NAME_MAX: usize = 64;
/// The replay store's scope for used challenges.
const CHALLENGE_SCOPE: &str = "webauthn";

/// A passkey as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    /// Base64url, for the browser's `excludeCredentials` and `allowCredentials`.
    pub credential_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<PasskeyRecord> for PasskeyView {
    fn from(r: PasskeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            credential_id: r.credential_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A user's passkeys and what registering another needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkeys {
    pub user_id: String,
    pub email: String,
    pub list: Vec<PasskeyView>,
}

/// `navigator.credentials.get`'s response, as posted.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyAssertion<'a> {
    /// Base64url.
    pub credential_id: &'a str,
    pub client_data_json: &'a [u8],
    pub authenticator_data: &'a [u8],
    pub signature: &'a [u8],
    /// The user handle a discoverable credential returns: the user's id.
    pub user_handle: Option<&'a [u8]>,
}

/// Who a passkey signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySignIn {
    pub user_id: String,
    /// The passkey may be synced between devices (`swk` rather than `hwk`).
    pub synced: bool,
}

/// Why a passkey did not sign anyone in. People see one sentence whatever the reason; the
/// reason is for logs.
#[derive(Debug)]
pub enum PasskeyError {
    /// The challenge was answered already, or is not one of ours.
    ChallengeUsed,
    /// No passkey with this credential id (of this user, in a second step).
    Unknown,
    Disabled,
    Refused(WebAuthnError),
    Service(ServiceError),
}

impl<E: Into<ServiceError>> From<E> for PasskeyError {
    fn from(e: E) -> Self {
        Self::Service(e.into())
    }
}

fn unreadable() -> ServiceError {
    ServiceError::field(
        "passkey",
        "the passkey's answer could not be checked; try again",
    )
}

impl<S: Governed + UserStore + ThrottleStore + PasskeyStore + ReplayStore> Manager<S> {
    /// The relying party: the issuer's host and origin.
    pub fn relying_party(&self) -> Result<RelyingParty, ServiceError> {
        RelyingParty::for_issuer(&self.issuer)
            .ok_or_else(|| ServiceError::Internal("the issuer has no host".into()))
    }

    /// The signed-in user's passkeys.
    pub async fn passkeys(&self, actor: &Caller) -> Result<Passkeys, ServiceError> {
        let user = self.own_account(actor).await?;
        let list = self.store.passkeys(&user.id).await?;
        Ok(Passkeys {
            list: list.into_iter().map(PasskeyView::from).collect(),
            user_id: user.id,
            email: user.email,
        })
    }

    /// The credential ids of `user_id`'s passkeys, for a second step's `allowCredentials`.
    pub async fn passkey_credentials(&self, user_id: &str) -> Result<Vec<String>, ServiceError> {
        let list = self.store.passkeys(user_id).await?;
        Ok(list.into_iter().map(|p| p.credential_id).collect())
    }

    /// Uses up `challenge`: `false` if it was used before.
    async fn use_challenge(&self, challenge: &Challenge) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let jti = challenge.jti();
        Ok(self
            .store
            .first_use(CHALLENGE_SCOPE, &jti, challenge.expires_at, now)
            .await?)
    }

    /// Registers the passkey of a `navigator.credentials.create` response to `challenge`,
    /// under `name`.
    pub async fn add_passkey(
        &self,
        actor: &Caller,
        challenge: &Challenge,
        name: &str,
        client_data_json: &[u8],
        attestation_object: &[u8],
    ) -> Result<PasskeyView, ServiceError> {
        let user = self.own_account(actor).await?;
        let name = name.trim();
        let mut invalid = FieldErrors::default();
        if name.is_empty() {
            invalid.add("name", "name the passkey, as \"Laptop\" or \"Phone\"");
        } else if name.chars().count() > PASSKEY_NAME_MAX {
            invalid.add(
                "name",
                format!("the name must be at most {PASSKEY_NAME_MAX} characters"),
            );
        }
        refuse_control_characters(&mut invalid, "name", name);
        invalid.finish()?;
        let rp = self.relying_party()?;
        let credential = webauthn::verify_registration(
            &rp,
            &challenge.bytes,
            client_data_json,
            attestation_object,
        )
        .map_err(|_| unreadable())?;
        if !self.use_challenge(challenge).await? {
            return Err(unreadable());
        }
        let now = self.clock.now();
        let record = PasskeyRecord {
            id: secret::new_id("pk_")?,
            user_id: user.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(&credential.credential_id),
            public_key: URL_SAFE_NO_PAD.encode(&credential.public_key),
            alg: credential.alg,
            sign_count: i64::from(credential.sign_count),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        };
        let audit = self.audit(
            actor,
            AuditAction::UserAddPasskey,
            &user.id,
            None,
            json!({"email": user.email, "passkey": record.id, "name": record.name}),
        )?;
        match self
            .store
            .add_passkey(&record, MAX_PASSKEYS, &audit)
            .await?
        {
            PasskeyAdded::Added => Ok(record.into()),
            PasskeyAdded::AtLimit => Err(ServiceError::Conflict(format!(
                "you have {MAX_PASSKEYS} passkeys; remove one first"
            ))),
            PasskeyAdded::Duplicate => Err(ServiceError::Conflict(
                "this passkey is registered already".into(),
            )),
        }
    }

    /// Removes the user's passkey `id`, given their current password (checked like a
    /// sign-in, throttled), so a borrowed session cannot take a way in away.
    pub async fn remove_passkey(
        &self,
        actor: &Caller,
        passwords: &PasswordChecker,
        id: &str,
        current_password: &str,
    ) -> Result<(), ServiceError> {
        let user = self.own_account(actor).await?;
        let address = actor
            .source
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let now = self.clock.now();
        let wrong = || ServiceError::field("password", "the password is incorrect");
        match login::authenticate(
            &self.store,
            passwords,
            &user.email,
            current_password,
            address,
            now,
        )
        .await
        {
            Ok(checked) if checked.id == user.id => {}
            Ok(_) | Err(LoginError::Invalid | LoginError::TooLong) => return Err(wrong()),
            Err(LoginError::Throttled(wait)) => {
                return Err(ServiceError::field(
                    "password",
                    format!("too many failed attempts; try again in {wait} seconds"),
                ));
            }
            Err(LoginError::Busy) => return Err(busy()),
            Err(LoginError::Disabled) => {
                return Err(ServiceError::Forbidden("this account is disabled".into()));
            }
            Err(LoginError::Store(e)) => return Err(e.into()),
        }
        let name = self
            .store
            .passkeys(&user.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(|p| p.name)
            .ok_or_else(|| ServiceError::NotFound("passkey".into()))?;
        let audit = self.audit(
            actor,
            AuditAction::UserRemovePasskey,
            &user.id,
            None,
            json!({"email": user.email, "passkey": id, "name": name}),
        )?;
        if self.store.remove_passkey(&user.id, id, &audit).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("passkey".into()))
        }
    }

    /// Checks a `navigator.credentials.get` response to `challenge`: a sign-in with a passkey
    /// alone (`for_user` `None`, any account's discoverable passkey) or the second step of
    /// `for_user`'s sign-in (only their passkeys).
    pub async fn sign_in_with_passkey(
        &self,
        challenge: &Challenge,
        response: PasskeyAssertion<'_>,
        for_user: Option<&str>,
    ) -> Result<PasskeySignIn, PasskeyError> {
        if response.credential_id.len() > 2 * webauthn::MAX_CREDENTIAL_ID {
            return Err(PasskeyError::Unknown);
        }
        let record = self
            .store
            .passkey_by_credential(response.credential_id)
            .await?
            .ok_or(PasskeyError::Unknown)?;
        if for_user.is_some_and(|u| u != record.user_id)
            || response
                .user_handle
                .is_some_and(|h| !h.is_empty() && h != record.user_id.as_bytes())
        {
            return Err(PasskeyError::Unknown);
        }
        let user = self
            .store
            .user(&record.user_id)
            .await?
            .ok_or(PasskeyError::Unknown)?;
        if user.disabled_at.is_some() {
            return Err(PasskeyError::Disabled);
        }
        let public_key = URL_SAFE_NO_PAD
            .decode(&record.public_key)
            .map_err(|_| PasskeyError::Refused(WebAuthnError::Malformed))?;
        let stored_count = u32::try_from(record.sign_count).unwrap_or(u32::MAX);
        let verified = webauthn::verify_assertion(
            &self.relying_party()?,
            &challenge.bytes,
            &public_key,
            stored_count,
            response.client_data_json,
            response.authenticator_data,
            response.signature,
        )
        .map_err(PasskeyError::Refused)?;
        if !self.use_challenge(challenge).await? {
            return Err(PasskeyError::ChallengeUsed);
        }
        let now = self.clock.now();
        let new_count = i64::from(verified.sign_count);
        if !self
            .store
            .use_passkey(&record.id, record.sign_count, new_count, now)
            .await?
        {
            return Err(PasskeyError::Refused(WebAuthnError::CounterWentBack));
        }
        Ok(PasskeySignIn {
            user_id: record.user_id,
            synced: verified.backup_eligible,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::testing::{World, ok};
    use crate::webauthn::testing::Authenticator;
    use aws_lc_rs::hmac;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"test")
    }

    fn challenge(w: &World, purpose: &str) -> Challenge {
        let now = w.clock.now();
        let c = ok(webauthn::new_challenge(&key(), purpose, "b", now));
        Challenge::open(&key(), purpose, "b", &c, now).unwrap()
    }

    async fn register(
        w: &World,
        a: &Authenticator,
        name: &str,
    ) -> Result<PasskeyView, ServiceError> {
        let me = World::signed_in(&w.member);
        let c = challenge(w, "register");
        let (cd, ao) = a.register(&c.bytes);
        w.manager.add_passkey(&me, &c, name, &cd, &ao).await
    }

    fn assertion<'a>(
        cd: &'a [u8],
        ad: &'a [u8],
        sig: &'a [u8],
        id: &'a str,
    ) -> PasskeyAssertion<'a> {
        PasskeyAssertion {
            credential_id: id,
            client_data_json: cd,
            authenticator_data: ad,
            signature: sig,
            user_handle: None,
        }
    }

    #[tokio::test]
    async fn a_registered_passkey_signs_in_once_per_challenge() {
        let w = World::new().await;
        let rp = ok(w.manager.relying_party());
        let mut a = Authenticator::es256(&rp);
        let view = ok(register(&w, &a, "Laptop").await);
        assert_eq!(view.name, "Laptop");
        let trail = w.store.audit_trail();
        assert_eq!(trail.last().unwrap().action, AuditAction::UserAddPasskey);

        let c = challenge(&w, "sign-in");
        let (cd, ad, sig) = a.assert(&c.bytes);
        let id = URL_SAFE_NO_PAD.encode(&a.credential_id);
        let signed = w
            .manager
            .sign_in_with_passkey(&c, assertion(&cd, &ad, &sig, &id), None)
            .await
            .unwrap();
        assert_eq!(signed.user_id, w.member.id);
        assert!(!signed.synced);
        let again = w
            .manager
            .sign_in_with_passkey(&c, assertion(&cd, &ad, &sig, &id), None)
            .await;
        assert!(
            matches!(again, Err(PasskeyError::ChallengeUsed)),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_second_step_takes_only_the_users_own_passkeys() {
        let w = World::new().await;
        let rp = ok(w.manager.relying_party());
        let mut a = Authenticator::es256(&rp);
        ok(register(&w, &a, "Phone").await);
        let c = challenge(&w, "second-step");
        let (cd, ad, sig) = a.assert(&c.bytes);
        let id = URL_SAFE_NO_PAD.encode(&a.credential_id);
        let other = w
            .manager
            .sign_in_with_passkey(&c, assertion(&cd, &ad, &sig, &id), Some("usr_other"))
            .await;
        assert!(matches!(other, Err(PasskeyError::Unknown)));
    }

    #[tokio::test]
    async fn names_and_counts_are_bounded_and_duplicates_refused() {
        let w = World::new().await;
        let rp = ok(w.manager.relying_party());
        let a = Authenticator::es256(&rp);
        assert!(matches!(
            register(&w, &a, " ").await,
            Err(ServiceError::InvalidFields(_))
        ));
        let long = "x".repeat(PASSKEY_NAME_MAX + 1);
        assert!(matches!(
            register(&w, &a, &long).await,
            Err(ServiceError::InvalidFields(_))
        ));
        assert!(matches!(
            register(&w, &a, "a\nb").await,
            Err(ServiceError::InvalidFields(_))
        ));
        ok(register(&w, &a, "One").await);
        assert!(matches!(
            register(&w, &a, "Again").await,
            Err(ServiceError::Conflict(_))
        ));
        for i in 1..MAX_PASSKEYS {
            ok(register(&w, &Authenticator::es256(&rp), &format!("Key {i}")).await);
        }
        let over = register(&w, &Authenticator::es256(&rp), "Eleventh").await;
        assert!(matches!(over, Err(ServiceError::Conflict(_))), "{over:?}");
    }

    #[tokio::test]
    async fn a_challenge_cannot_register_twice() {
        let w = World::new().await;
        let rp = ok(w.manager.relying_party());
        let me = World::signed_in(&w.member);
        let c = challenge(&w, "register");
        let (cd, ao) = Authenticator::es256(&rp).register(&c.bytes);
        ok(w.manager.add_passkey(&me, &c, "One", &cd, &ao).await);
        let (cd, ao) = Authenticator::es256(&rp).register(&c.bytes);
        let again = w.manager.add_passkey(&me, &c, "Two", &cd, &ao).await;
        assert!(matches!(again, Err(ServiceError::InvalidFields(_))));
    }

    #[test]
    fn passkey_sign_ins_are_stored_and_claimed_as_such() {
        use crate::model::SignInMethod;
        for synced in [false, true] {
            for m in [
                SignInMethod::Passkey { synced },
                SignInMethod::PasswordAndPasskey { synced },
            ] {
                assert_eq!(SignInMethod::parse(m.as_str()), m);
            }
        }
        assert_eq!(SignInMethod::Passkey { synced: true }.amr(), ["swk", "mfa"]);
        assert_eq!(
            SignInMethod::PasswordAndPasskey { synced: false }.amr(),
            ["pwd", "hwk", "mfa"]
        );
    }
}
