//! Users and their own account: creating and disabling them, the console's frame, approvals.

use super::Governed;
use super::{Manager, refuse_control_characters};
use crate::model::{Actor, AuditAction, Caller, Membership, Organization, User};
use crate::policy::{self, Action};
use crate::store::{ConsentStore, ConsentView, GrantStore, UserStore, Window};
use crate::{FieldErrors, ServiceError, password, secret};
use serde_json::json;

/// An email address as Grantor keeps it: trimmed and lowercase.
pub(super) fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_lowercase();
    if !email.contains('@')
        || email.len() > 254
        || email.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(format!("{email:?} is not an email address"));
    }
    Ok(email)
}

/// A new user's email (as Grantor keeps it), password (8 characters or more) and optional
/// name (blank is none), checked.
fn user_fields<'a>(
    email: &str,
    password: Option<&str>,
    name: Option<&'a str>,
) -> Result<(String, Option<&'a str>), ServiceError> {
    let mut invalid = FieldErrors::default();
    let email = invalid.keep("email", normalize_email(email));
    if let Some(Err(why)) = password.map(password::check_new) {
        invalid.add("password", why);
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.len() > 100) {
        invalid.add("name", "a name must be at most 100 characters");
    }
    refuse_control_characters(&mut invalid, "name", name.unwrap_or_default());
    Ok((invalid.finish_with(email)?, name))
}

impl<S> Manager<S> {
    /// A user record, checked: a real-looking email, a password of 8 characters or more if
    /// any. Without one, the account cannot sign in with a password until it is given one
    /// (an operator provisioning members ahead of their first sign-in).
    pub(super) fn new_user(
        &self,
        email: &str,
        password: Option<&str>,
        name: Option<&str>,
        platform_admin: bool,
    ) -> Result<User, ServiceError> {
        let (email, name) = user_fields(email, password, name)?;
        Ok(User {
            id: secret::new_id("usr_")?,
            name: name.unwrap_or(&email).to_string(),
            email,
            password_hash: password
                .map(password::hash)
                .transpose()?
                .unwrap_or_default(),
            platform_admin,
            created_at: self.clock.now(),
            disabled_at: None,
            email_verified_at: None,
        })
    }
}

impl<S: UserStore> Manager<S> {
    /// The user `actor` is, for what concerns only them; "not found" for anyone else.
    pub(super) async fn own_account(&self, actor: &Caller) -> Result<User, ServiceError> {
        let Actor::User { user_id, .. } = &actor.actor else {
            return Err(ServiceError::NotFound("account".into()));
        };
        self.store
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("account".into()))
    }
}

impl<S: Governed + UserStore + ConsentStore + GrantStore> Manager<S> {
    pub async fn create_user(
        &self,
        actor: &Caller,
        email: &str,
        password: Option<&str>,
        name: Option<&str>,
        platform_admin: bool,
    ) -> Result<User, ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        let user = self.new_user(email, password, name, platform_admin)?;
        let audit = self.audit(
            actor,
            AuditAction::UserCreate,
            &user.id,
            None,
            json!({"email": user.email, "platform_admin": platform_admin}),
        )?;
        self.store.create_user(&user, &audit).await?;
        Ok(user)
    }

    /// Disables or enables an account (operator or platform admin). A disabled user's
    /// sessions, refresh tokens and API tokens stop working; their data stays.
    pub async fn set_user_disabled(
        &self,
        actor: &Caller,
        email: &str,
        disabled: bool,
    ) -> Result<User, ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        let mut user = self
            .store
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        user.disabled_at = disabled.then(|| self.clock.now());
        let action = if disabled {
            AuditAction::UserDisable
        } else {
            AuditAction::UserEnable
        };
        let audit = self.audit(actor, action, &user.id, None, json!({"email": user.email}))?;
        self.store
            .set_user_disabled(&user.id, user.disabled_at, &audit)
            .await?;
        Ok(user)
    }

    /// The signed-in user's account: who they are, their organizations and the approvals
    /// they gave.
    pub async fn account(
        &self,
        actor: &Caller,
    ) -> Result<(User, Vec<Membership>, Vec<ConsentView>), ServiceError> {
        let user = self.own_account(actor).await?;
        let user_id = &user.id;
        let memberships = self.store.memberships_of_user(user_id).await?;
        let consents = self.store.consents_of_user(user_id).await?;
        Ok((user, memberships, consents))
    }

    /// What every console page of organization `org` (id or name) needs: the signed-in user,
    /// their membership there, and the first `switcher` of their other organizations by name
    /// (a user may belong to a thousand).
    pub async fn console_frame(
        &self,
        actor: &Caller,
        org: &str,
        switcher: usize,
    ) -> Result<(User, Membership, Vec<Organization>), ServiceError> {
        let user = self.own_account(actor).await?;
        let user_id = &user.id;
        let not_found = || ServiceError::NotFound(format!("organization {org:?}"));
        let found = self.store.organization(org).await?.ok_or_else(not_found)?;
        let here = self
            .store
            .membership(&found.id, user_id)
            .await?
            .ok_or_else(not_found)?;
        let mut others = self
            .store
            .organizations_of_user(user_id, Window::first(switcher + 1))
            .await?;
        others.retain(|o| o.id != here.org_id);
        others.truncate(switcher);
        Ok((user, here, others))
    }

    /// Forgets a user's approval of an app in an organization and revokes every token
    /// issued under it.
    pub async fn revoke_approval(
        &self,
        actor: &Caller,
        client_id: &str,
        org_id: &str,
    ) -> Result<(), ServiceError> {
        let Actor::User { user_id, .. } = &actor.actor else {
            return Err(ServiceError::NotFound("approval".into()));
        };
        self.store
            .delete_consent(user_id, client_id, org_id)
            .await?;
        self.store
            .revoke_grants_of(user_id, client_id, org_id, self.clock.now())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::fields;

    #[test]
    fn a_new_users_fields_are_checked_together() {
        let long = "n".repeat(101);
        assert_eq!(
            fields(user_fields("nobody", Some("short"), Some(&long))),
            ["email", "password", "name"]
        );
        assert_eq!(
            user_fields("Neo@Acme.example", Some("long enough"), Some("  ")),
            Ok(("neo@acme.example".to_string(), None))
        );
    }
}
