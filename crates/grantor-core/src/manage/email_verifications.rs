//! Verified emails: a single-use link mailed to the account's address proves it reaches its
//! user, so ID tokens and userinfo can say `email_verified: true`. Sent when someone else
//! creates the account, and on the user's request (throttled); the operator may also vouch
//! for an address. Links follow password resets: 256 bits, stored hashed, single use.

use super::users::normalize_email;
use super::{Governed, Manager, invalid};
use crate::model::{Actor, AuditAction, Caller, User};
use crate::policy::{self, Action};
use crate::store::{EmailVerification, EmailVerificationStore, ThrottleStore, UserStore};
use crate::{ServiceError, secret};
use serde_json::json;

/// Verification links work for a day.
pub const EMAIL_VERIFICATION_TTL: i64 = 24 * 3600;
/// Links a user may ask for within an hour of the last one.
const PER_ACCOUNT: i64 = 3;
const WINDOW: i64 = 3600;

const GONE: &str = "this verification link was already used or has expired; ask for a new one from your account page";

impl<S: Governed + UserStore + ThrottleStore + EmailVerificationStore> Manager<S> {
    async fn issue_verification(
        &self,
        actor: &Caller,
        user: &User,
        delivery: &str,
    ) -> Result<String, ServiceError> {
        let token = secret::generate(secret::Kind::EmailVerification)?;
        let now = self.clock.now();
        let link = EmailVerification {
            token_hash: secret::hash(&token),
            user_id: user.id.clone(),
            email: user.email.clone(),
            created_at: now,
            expires_at: now + EMAIL_VERIFICATION_TTL,
            used_at: None,
        };
        let audit = self.audit(
            actor,
            AuditAction::UserRequestEmailVerification,
            &user.id,
            None,
            json!({"email": user.email, "delivery": delivery}),
        )?;
        self.store.create_email_verification(&link, &audit).await?;
        Ok(token)
    }

    /// A link for a user just created (by an administrator through the API, or by accepting
    /// an invitation handed over as a link), for the caller to mail to the user's address;
    /// `None` when the address is already verified. Only the user or whoever manages users
    /// may have one made.
    pub async fn email_verification_for(
        &self,
        actor: &Caller,
        user: &User,
    ) -> Result<Option<String>, ServiceError> {
        let own = matches!(&actor.actor, Actor::User { user_id, .. } if *user_id == user.id);
        if !own {
            policy::check(actor, Action::ManageUsers, None, None)?;
        }
        if user.email_verified_at.is_some() {
            return Ok(None);
        }
        self.issue_verification(actor, user, "created")
            .await
            .map(Some)
    }

    /// The signed-in user asks for a new link, to their own address: `Ok(None)` when it is
    /// verified already; [`EmailLinkError::Throttled`] past three within an hour.
    pub async fn request_email_verification(
        &self,
        actor: &Caller,
    ) -> Result<Option<(User, String)>, EmailLinkError> {
        let user = self.own_account(actor).await?;
        if user.email_verified_at.is_some() {
            return Ok(None);
        }
        let now = self.clock.now();
        let key = format!("verify-account:{}", user.id);
        if let Some((count, last)) = self.store.failures(&key).await?
            && now - last < WINDOW
            && count >= PER_ACCOUNT
        {
            return Err(EmailLinkError::Throttled(last + WINDOW - now));
        }
        self.store.record_failure(&key, now, WINDOW).await?;
        let token = self.issue_verification(actor, &user, "mail").await?;
        Ok(Some((user, token)))
    }

    /// Verifies the address a link was mailed to, once. Returns the account.
    pub async fn verify_email(
        &self,
        token: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<User, ServiceError> {
        if !secret::has_shape(token, secret::Kind::EmailVerification) {
            return Err(invalid(GONE));
        }
        let now = self.clock.now();
        let link = self
            .store
            .email_verification(&secret::hash(token))
            .await?
            .filter(|l| l.used_at.is_none() && l.expires_at > now)
            .ok_or_else(|| invalid(GONE))?;
        let user = self
            .store
            .user(&link.user_id)
            .await?
            .filter(|u| u.email == link.email)
            .ok_or_else(|| invalid(GONE))?;
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
            AuditAction::UserVerifyEmail,
            &user.id,
            None,
            json!({"email": user.email, "by": "link"}),
        )?;
        if self
            .store
            .use_email_verification(&link, now, &audit)
            .await?
        {
            Ok(User {
                email_verified_at: Some(now),
                ..user
            })
        } else {
            Err(invalid(GONE))
        }
    }

    /// The operator (or a platform admin) vouches for a user's address, or withdraws that.
    pub async fn set_email_verified(
        &self,
        actor: &Caller,
        email: &str,
        verified: bool,
    ) -> Result<User, ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        let email = normalize_email(email).map_err(|e| ServiceError::field("email", e))?;
        let mut user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        user.email_verified_at = verified.then(|| self.clock.now());
        let audit = self.audit(
            actor,
            AuditAction::UserVerifyEmail,
            &user.id,
            None,
            json!({"email": user.email, "by": "operator", "verified": verified}),
        )?;
        self.store
            .set_email_verified(&user.id, user.email_verified_at, &audit)
            .await?;
        Ok(user)
    }
}

/// Why a new verification link was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLinkError {
    /// Too many links asked for; try again after this many seconds.
    Throttled(i64),
    Service(ServiceError),
}

impl From<ServiceError> for EmailLinkError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<crate::StoreError> for EmailLinkError {
    fn from(e: crate::StoreError) -> Self {
        Self::Service(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::testing::{World, ok};

    #[tokio::test]
    async fn a_link_verifies_the_address_once_and_expires_after_a_day() {
        let w = World::new().await;
        let member = World::signed_in(&w.member);
        let (user, token) = ok(w.manager.request_email_verification(&member).await).unwrap();
        assert_eq!(user.id, w.member.id);
        assert!(secret::has_shape(&token, secret::Kind::EmailVerification));
        let verified = ok(w.manager.verify_email(&token, None).await);
        assert!(verified.email_verified_at.is_some());
        let stored = ok(w.store.user(&w.member.id).await).unwrap();
        assert!(stored.email_verified_at.is_some());
        assert!(
            w.manager.verify_email(&token, None).await.is_err(),
            "single use"
        );
        assert_eq!(
            ok(w.manager.request_email_verification(&member).await).map(|(_, t)| t),
            None,
            "nothing to verify any more"
        );
        let trail = w.store.audit_trail();
        assert!(
            trail
                .iter()
                .all(|e| !e.details.to_string().contains(&token))
        );

        let owner = World::signed_in(&w.owner);
        let (_, late) = ok(w.manager.request_email_verification(&owner).await).unwrap();
        w.clock.advance(EMAIL_VERIFICATION_TTL);
        assert!(w.manager.verify_email(&late, None).await.is_err());
        for bad in [
            "",
            "gr_ev_x",
            "gr_pwr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(w.manager.verify_email(bad, None).await.is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn requests_are_throttled_and_only_the_operator_vouches() {
        let w = World::new().await;
        let member = World::signed_in(&w.member);
        for _ in 0..PER_ACCOUNT {
            assert!(w.manager.request_email_verification(&member).await.is_ok());
        }
        let refused = w.manager.request_email_verification(&member).await;
        assert!(matches!(refused, Err(EmailLinkError::Throttled(s)) if s > 0));
        w.clock.advance(WINDOW);
        assert!(w.manager.request_email_verification(&member).await.is_ok());

        let owner = World::signed_in(&w.owner);
        let refused = w
            .manager
            .set_email_verified(&owner, "member@acme.test", true)
            .await;
        assert!(matches!(refused, Err(ServiceError::Forbidden(_))));
        let op = Caller::operator();
        let user = ok(w
            .manager
            .set_email_verified(&op, "Member@Acme.test", true)
            .await);
        assert_eq!(user.email_verified_at, Some(w.clock.now()));
    }
}
