//! Password resets: a single-use link, mailed on request or handed over by the operator,
//! that sets a new password and signs the user out everywhere.
//!
//! A request never says whether the account exists: the answer, and the work behind it (a
//! token made and hashed, the throttles counted), are the same either way; only a real,
//! enabled account gets a link, which the caller mails.

use super::passwords::hash_new;
use super::users::normalize_email;
use super::{Governed, Manager, invalid};
use crate::model::{Actor, AuditAction, Caller, User};
use crate::password::{self, PasswordChecker};
use crate::policy::{self, Action};
use crate::store::{PasswordReset, PasswordResetStore, ThrottleStore, UserStore};
use crate::{ServiceError, secret};
use serde_json::json;
use std::net::IpAddr;

/// Reset links work for 30 minutes.
pub const PASSWORD_RESET_TTL: i64 = 30 * 60;
/// Requests per email address, and per client address, within an hour of the last one.
const PER_ACCOUNT: i64 = 3;
const PER_ADDRESS: i64 = 10;
const WINDOW: i64 = 3600;

/// Why a reset request was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetRequestError {
    /// Not an email address at all (nothing is said about accounts).
    NotAnEmail,
    /// Too many requests for this email or from this address; try again after this many
    /// seconds.
    Throttled(i64),
    Service(ServiceError),
}

impl From<ServiceError> for ResetRequestError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<crate::StoreError> for ResetRequestError {
    fn from(e: crate::StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl From<crate::CryptoError> for ResetRequestError {
    fn from(e: crate::CryptoError) -> Self {
        Self::Service(e.into())
    }
}

/// A reset link as its holder sees it.
#[derive(Debug, Clone)]
pub struct ResetView {
    pub email: String,
    pub expires_at: i64,
}

impl<S: Governed + UserStore + ThrottleStore + PasswordResetStore> Manager<S> {
    /// Counts one request against `key`; refuses it when `limit` were made within the hour.
    async fn count_request(
        &self,
        key: &str,
        limit: i64,
        now: i64,
    ) -> Result<(), ResetRequestError> {
        if let Some((count, last)) = self.store.failures(key).await?
            && now - last < WINDOW
            && count >= limit
        {
            return Err(ResetRequestError::Throttled(last + WINDOW - now));
        }
        self.store.record_failure(key, now, WINDOW).await?;
        Ok(())
    }

    /// Someone at `address` asks for a reset link for `email`. The answer is the same whether
    /// or not the account exists; `Some` holds the account and the link's token (shown
    /// nowhere but in the message to the account's own address) when it does.
    pub async fn request_password_reset(
        &self,
        email: &str,
        address: IpAddr,
    ) -> Result<Option<(User, String)>, ResetRequestError> {
        let email = normalize_email(email).map_err(|_| ResetRequestError::NotAnEmail)?;
        let now = self.clock.now();
        let by_address =
            crate::login::address_key(address).replacen("address:", "reset-address:", 1);
        self.count_request(&by_address, PER_ADDRESS, now).await?;
        self.count_request(&format!("reset-account:{email}"), PER_ACCOUNT, now)
            .await?;
        // The token is made and hashed whether or not anyone gets it.
        let token = secret::generate(secret::Kind::PasswordReset)?;
        let token_hash = secret::hash(&token);
        let Some(user) = self
            .store
            .user_by_email(&email)
            .await?
            .filter(|u| u.disabled_at.is_none())
        else {
            return Ok(None);
        };
        let caller = Caller {
            actor: Actor::User {
                user_id: user.id.clone(),
                platform_admin: false,
                token: None,
            },
            source: Some(address.to_string()),
            rehearsal: false,
        };
        self.issue(&caller, &user, token_hash, "mail", now).await?;
        Ok(Some((user, token)))
    }

    /// The operator makes a reset link for `email`, to hand over; returns the account, the
    /// token and when it expires.
    pub async fn password_reset_link(
        &self,
        actor: &Caller,
        email: &str,
    ) -> Result<(User, String, i64), ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        let user = self
            .store
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        let token = secret::generate(secret::Kind::PasswordReset)?;
        let now = self.clock.now();
        let reset = self
            .issue(actor, &user, secret::hash(&token), "operator", now)
            .await?;
        Ok((user, token, reset.expires_at))
    }

    async fn issue(
        &self,
        actor: &Caller,
        user: &User,
        token_hash: String,
        delivery: &str,
        now: i64,
    ) -> Result<PasswordReset, ServiceError> {
        let reset = PasswordReset {
            token_hash,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now + PASSWORD_RESET_TTL,
            used_at: None,
        };
        let audit = self.audit(
            actor,
            AuditAction::UserRequestPasswordReset,
            &user.id,
            None,
            json!({"email": user.email, "delivery": delivery}),
        )?;
        self.store.create_password_reset(&reset, &audit).await?;
        Ok(reset)
    }

    async fn open_reset(&self, token: &str) -> Result<(PasswordReset, User), ServiceError> {
        let gone = || invalid("this reset link was already used or has expired; ask for a new one");
        if !secret::has_shape(token, secret::Kind::PasswordReset) {
            return Err(gone());
        }
        let reset = self
            .store
            .password_reset(&secret::hash(token))
            .await?
            .filter(|r| r.used_at.is_none() && r.expires_at > self.clock.now())
            .ok_or_else(gone)?;
        let user = self.store.user(&reset.user_id).await?.ok_or_else(gone)?;
        Ok((reset, user))
    }

    /// The open reset link behind `token`: whose password it sets, until when.
    pub async fn password_reset(&self, token: &str) -> Result<ResetView, ServiceError> {
        let (reset, user) = self.open_reset(token).await?;
        Ok(ResetView {
            email: user.email,
            expires_at: reset.expires_at,
        })
    }

    /// Sets a new password with a reset link, once; the user is signed out everywhere.
    /// Returns the account.
    pub async fn reset_password(
        &self,
        token: &str,
        passwords: &PasswordChecker,
        new: &str,
        source: Option<IpAddr>,
    ) -> Result<User, ServiceError> {
        let (reset, user) = self.open_reset(token).await?;
        password::check_new(new).map_err(|why| ServiceError::field("new_password", why))?;
        let hash = hash_new(passwords, new).await?;
        let caller = Caller::new(
            Actor::User {
                user_id: user.id.clone(),
                platform_admin: false,
                token: None,
            },
            source,
        );
        let audit = self.audit(
            &caller,
            AuditAction::UserResetPassword,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        if self
            .store
            .use_password_reset(&reset, &hash, self.clock.now(), &audit)
            .await?
        {
            Ok(user)
        } else {
            Err(invalid(
                "this reset link was already used or has expired; ask for a new one",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::manage::tests::fields;
    use crate::store::{SessionRecord, SessionStore};
    use crate::testing::{World, ok};

    fn here() -> IpAddr {
        IpAddr::from([198, 51, 100, 7])
    }

    async fn link(w: &World, email: &str) -> Option<String> {
        let asked = w.manager.request_password_reset(email, here()).await;
        ok(asked).map(|(_, token)| token)
    }

    #[tokio::test]
    async fn a_link_sets_a_password_once_and_signs_the_user_out_everywhere() {
        let w = World::new().await;
        let token = link(&w, " Member@Acme.test ").await.unwrap();
        assert!(secret::has_shape(&token, secret::Kind::PasswordReset));
        let now = w.clock.now();
        for id in ["a", "b"] {
            let s = SessionRecord {
                id_hash: id.into(),
                user_id: w.member.id.clone(),
                auth_time: now,
                method: Default::default(),
                expires_at: now + 60,
                handle: format!("ses_{id}"),
                user_agent: String::new(),
                address: String::new(),
                last_seen_at: 0,
            };
            ok(w.store.create_session(&s).await);
        }
        let view = ok(w.manager.password_reset(&token).await);
        assert_eq!(view.email, "member@acme.test");
        let pw = &w.provider.passwords;
        let short = w.manager.reset_password(&token, pw, "short", None).await;
        assert_eq!(fields(short), ["new_password"]);
        ok(w.manager
            .reset_password(&token, pw, "brand new one", Some(here()))
            .await);
        assert!(w.store.sessions_of(&w.member.id).is_empty());
        let user = ok(w.store.user(&w.member.id).await).unwrap();
        assert!(password::verify("brand new one", &user.password_hash));
        let again = w
            .manager
            .reset_password(&token, pw, "another one", None)
            .await;
        assert!(matches!(again, Err(ServiceError::Invalid(_))), "{again:?}");
        assert!(w.manager.password_reset(&token).await.is_err());
        let trail = w.store.audit_trail();
        let actions: Vec<&str> = trail
            .iter()
            .rev()
            .take(2)
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            ["user.reset_password", "user.request_password_reset"]
        );
        assert!(
            trail
                .iter()
                .all(|e| !e.details.to_string().contains(&token))
        );
    }

    #[tokio::test]
    async fn a_link_expires_after_thirty_minutes_and_a_newer_password_closes_it() {
        let w = World::new().await;
        let pw = &w.provider.passwords;
        let token = link(&w, "member@acme.test").await.unwrap();
        w.clock.advance(PASSWORD_RESET_TTL);
        let late = w
            .manager
            .reset_password(&token, pw, "brand new one", None)
            .await;
        assert!(matches!(late, Err(ServiceError::Invalid(_))), "{late:?}");

        let token = link(&w, "member@acme.test").await.unwrap();
        let op = Caller::operator();
        ok(w.manager
            .set_password(&op, "member@acme.test", "set by the operator")
            .await);
        let stale = w
            .manager
            .reset_password(&token, pw, "brand new one", None)
            .await;
        assert!(
            stale.is_err(),
            "a link sent before the change no longer works"
        );
    }

    #[tokio::test]
    async fn unknown_and_disabled_accounts_get_the_same_answer_and_no_link() {
        let w = World::new().await;
        assert_eq!(link(&w, "nobody@acme.test").await, None);
        let op = Caller::operator();
        ok(w.manager
            .set_user_disabled(&op, "developer@acme.test", true)
            .await);
        assert_eq!(link(&w, "developer@acme.test").await, None);
        let not_email = w.manager.request_password_reset("nobody", here()).await;
        assert_eq!(not_email.err(), Some(ResetRequestError::NotAnEmail));
        for bad in [
            "",
            "gr_pwr_x",
            "gr_inv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(w.manager.password_reset(bad).await.is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn requests_are_throttled_per_account_and_per_address_alike_for_unknown_ones() {
        let w = World::new().await;
        for email in ["member@acme.test", "nobody@acme.test"] {
            for _ in 0..PER_ACCOUNT {
                assert!(
                    w.manager
                        .request_password_reset(email, here())
                        .await
                        .is_ok()
                );
            }
            let refused = w.manager.request_password_reset(email, here()).await;
            assert!(
                matches!(refused, Err(ResetRequestError::Throttled(s)) if s > 0),
                "{email}: {refused:?}"
            );
        }
        let mut throttled = false;
        for n in 0..PER_ADDRESS {
            let email = format!("someone{n}@acme.test");
            throttled |= w
                .manager
                .request_password_reset(&email, here())
                .await
                .is_err();
        }
        assert!(throttled, "one address cannot ask for many accounts");
        let elsewhere = IpAddr::from([203, 0, 113, 9]);
        let other = w
            .manager
            .request_password_reset("owner@acme.test", elsewhere)
            .await;
        assert!(other.is_ok(), "{other:?}");
        w.clock.advance(WINDOW);
        assert!(
            link(&w, "member@acme.test").await.is_some(),
            "an hour later"
        );
    }

    #[tokio::test]
    async fn the_operator_makes_links_and_only_the_operator() {
        let w = World::new().await;
        let op = Caller::operator();
        let (user, token, expires_at) =
            ok(w.manager.password_reset_link(&op, "owner@acme.test").await);
        assert_eq!(user.id, w.owner.id);
        assert_eq!(expires_at, w.clock.now() + PASSWORD_RESET_TTL);
        assert!(w.manager.password_reset(&token).await.is_ok());
        let owner = World::signed_in(&w.owner);
        let refused = w
            .manager
            .password_reset_link(&owner, "member@acme.test")
            .await;
        assert!(matches!(refused, Err(ServiceError::Forbidden(_))));
        let nobody = w.manager.password_reset_link(&op, "nobody@acme.test").await;
        assert!(matches!(nobody, Err(ServiceError::NotFound(_))));
    }
}
