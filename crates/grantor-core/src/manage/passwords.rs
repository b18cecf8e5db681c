//! Passwords: a user changing their own, an operator setting one. Each new password meets
//! the same rules ([`password::check_new`]) and signs out the sessions that knew the old one.

use super::{Governed, Manager};
use crate::ServiceError;
use crate::login::{self, LoginError};
use crate::model::{Actor, AuditAction, Caller, User};
use crate::password::{self, PasswordChecker};
use crate::policy::{self, Action};
use crate::store::{ThrottleStore, UserStore};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};

/// A new password hashed on the password threads; a full queue is a moment's congestion.
pub(super) async fn hash_new(
    passwords: &PasswordChecker,
    new: &str,
) -> Result<String, ServiceError> {
    Ok(passwords.hash(new).await.map_err(|_| busy())??)
}

pub(super) fn busy() -> ServiceError {
    ServiceError::Invalid("many people are signing in right now; try again in a moment".into())
}

impl<S: Governed + UserStore + ThrottleStore> Manager<S> {
    /// The signed-in user changes their password, proving they know the current one: checked
    /// like a sign-in (throttled per account and address, so a borrowed session cannot guess
    /// it faster than the sign-in page could). Every other session of theirs ends; `session`
    /// (the hash of the one making the change) stays signed in.
    pub async fn change_password(
        &self,
        actor: &Caller,
        passwords: &PasswordChecker,
        current: &str,
        new: &str,
        session: &str,
    ) -> Result<(), ServiceError> {
        let Actor::User { user_id, .. } = &actor.actor else {
            return Err(ServiceError::NotFound("account".into()));
        };
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("account".into()))?;
        password::check_new(new).map_err(|why| ServiceError::field("new_password", why))?;
        let address = actor
            .source
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let now = self.clock.now();
        let wrong = || ServiceError::field("current_password", "the current password is incorrect");
        match login::authenticate(&self.store, passwords, &user.email, current, address, now).await
        {
            Ok(checked) if checked.id == user.id => {}
            Ok(_) | Err(LoginError::Invalid | LoginError::TooLong) => return Err(wrong()),
            Err(LoginError::Throttled(wait)) => {
                return Err(ServiceError::field(
                    "current_password",
                    format!("too many failed attempts; try again in {wait} seconds"),
                ));
            }
            Err(LoginError::Busy) => return Err(busy()),
            Err(LoginError::Disabled) => {
                return Err(ServiceError::Forbidden("this account is disabled".into()));
            }
            Err(LoginError::Store(e)) => return Err(e.into()),
        }
        let hash = hash_new(passwords, new).await?;
        let audit = self.audit(
            actor,
            AuditAction::UserChangePassword,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        self.store
            .set_password(&user.id, &hash, Some(session), &audit)
            .await?;
        Ok(())
    }

    /// The operator sets a user's password (someone locked out, a new account handed over):
    /// the user is signed out everywhere.
    pub async fn set_password(
        &self,
        actor: &Caller,
        email: &str,
        new: &str,
    ) -> Result<User, ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        password::check_new(new).map_err(|why| ServiceError::field("password", why))?;
        let user = self
            .store
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        let hash = password::hash(new)?;
        let audit = self.audit(
            actor,
            AuditAction::UserSetPassword,
            &user.id,
            None,
            json!({"email": user.email}),
        )?;
        self.store
            .set_password(&user.id, &hash, None, &audit)
            .await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::fields;
    use crate::store::{SessionRecord, SessionStore};
    use crate::testing::{World, ok};

    const OLD: &str = "old password 1";

    async fn session(w: &World, user: &User, id: &str) {
        let now = w.clock.now();
        let record = SessionRecord {
            id_hash: id.into(),
            user_id: user.id.clone(),
            auth_time: now,
            method: Default::default(),
            expires_at: now + 3600,
            handle: format!("ses_{id}"),
            user_agent: String::new(),
            address: String::new(),
            last_seen_at: 0,
        };
        ok(w.store.create_session(&record).await);
    }

    async fn with_password(w: &World) -> Caller {
        let op = Caller::operator();
        ok(w.manager.set_password(&op, &w.member.email, OLD).await);
        for id in ["here", "elsewhere"] {
            session(w, &w.member, id).await;
        }
        session(w, &w.owner, "owner's").await;
        let mut caller = World::signed_in(&w.member);
        caller.source = Some("198.51.100.7".into());
        caller
    }

    use crate::Clock;

    #[tokio::test]
    async fn a_change_needs_the_current_password_and_ends_the_other_sessions() {
        let w = World::new().await;
        let me = with_password(&w).await;
        let m = &w.manager;
        let pw = &w.provider.passwords;
        let wrong = m.change_password(&me, pw, "not it at all", "new password 1", "here");
        assert_eq!(fields(wrong.await), ["current_password"]);
        let short = m.change_password(&me, pw, OLD, "short", "here");
        assert_eq!(fields(short.await), ["new_password"]);
        assert_eq!(w.store.sessions_of(&w.member.id), ["here", "elsewhere"]);

        ok(m.change_password(&me, pw, OLD, "new password 1", "here")
            .await);
        assert_eq!(w.store.sessions_of(&w.member.id), ["here"]);
        assert_eq!(w.store.sessions_of(&w.owner.id), ["owner's"]);
        let user = ok(w.store.user(&w.member.id).await).unwrap();
        assert!(password::verify("new password 1", &user.password_hash));
        let event = w.store.audit_trail().pop().unwrap();
        assert_eq!(
            (event.action.as_str(), event.target.as_str()),
            ("user.change_password", w.member.id.as_str())
        );
        assert_eq!(event.source.as_deref(), Some("198.51.100.7"));
        assert!(!event.details.to_string().contains("new password"));
    }

    #[tokio::test]
    async fn wrong_current_passwords_are_throttled_like_sign_ins() {
        let w = World::new().await;
        let me = with_password(&w).await;
        let pw = &w.provider.passwords;
        let mut throttled = None;
        for _ in 0..20 {
            match w
                .manager
                .change_password(&me, pw, "guess", "new password 1", "here")
                .await
            {
                Err(ServiceError::InvalidFields(e)) if e[0].message.contains("try again") => {
                    throttled = Some(e);
                    break;
                }
                Err(ServiceError::InvalidFields(_)) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(throttled.is_some(), "guesses are slowed down");
        let right = w
            .manager
            .change_password(&me, pw, OLD, "new password 1", "here");
        assert!(right.await.is_err(), "even the right one waits its turn");
    }

    #[tokio::test]
    async fn the_operator_sets_a_password_and_signs_the_user_out_everywhere() {
        let w = World::new().await;
        with_password(&w).await;
        let op = Caller::operator();
        let short = w.manager.set_password(&op, &w.member.email, "short");
        assert_eq!(fields(short.await), ["password"]);
        let member = World::signed_in(&w.member);
        let refused = w
            .manager
            .set_password(&member, &w.member.email, "long enough");
        assert!(matches!(refused.await, Err(ServiceError::Forbidden(_))));
        ok(w.manager
            .set_password(&op, &w.member.email, "long enough")
            .await);
        assert!(w.store.sessions_of(&w.member.id).is_empty());
        assert_eq!(
            w.store.audit_trail().pop().unwrap().action.as_str(),
            "user.set_password"
        );
    }
}
