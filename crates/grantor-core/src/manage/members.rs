//! Members of an organization and their roles.

use super::Governed;
use super::users::normalize_email;
use super::{Manager, invalid};
use crate::model::{AuditAction, Caller, Membership, Organization, Role};
use crate::policy::Action;
use crate::store::{MembershipChange, UserStore, Window};
use crate::{FieldErrors, ServiceError};
use serde_json::json;

/// A would-be member's email (the field `email_field`) and role name as a front end received
/// them, both checked and every refusal reported at once: the email as Grantor keeps it and
/// the [`Role`] named.
pub fn member_fields(
    email_field: &str,
    email: &str,
    role: &str,
) -> Result<(String, Role), ServiceError> {
    let mut invalid = FieldErrors::default();
    let email = invalid.keep(email_field, normalize_email(email));
    let role = invalid.keep("role", role.parse::<Role>());
    invalid.finish_with(email.zip(role))
}

/// A role's name as a front end received it, checked (the field `role`).
pub fn role_field(name: &str) -> Result<Role, ServiceError> {
    name.parse().map_err(|e| ServiceError::field("role", e))
}

/// Refuses a change that the store found would leave an organization without an owner:
/// nobody could manage its members or regenerate its secrets again. The store decides inside
/// the change's transaction, so two owners demoting each other at once cannot both succeed.
fn owner_kept(change: MembershipChange, user: &str) -> Result<(), ServiceError> {
    match change {
        MembershipChange::Changed => Ok(()),
        MembershipChange::NoSuchMember => Err(ServiceError::NotFound(format!("member {user:?}"))),
        MembershipChange::WouldLeaveNoOwner => Err(invalid(
            "this is the organization's only owner: make another member an owner first",
        )),
    }
}

impl<S: Governed + UserStore> Manager<S> {
    /// Makes the user with `email` a member of `org` with `role`, or gives a member that role.
    pub async fn add_member(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        role: Role,
    ) -> Result<Membership, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let email = normalize_email(email).map_err(|e| ServiceError::field("user", e))?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        self.put_member(actor, org, user.id, user.email, role).await
    }

    /// Records a membership in `org`, which `actor` may manage.
    async fn put_member(
        &self,
        actor: &Caller,
        org: Organization,
        user_id: String,
        email: String,
        role: Role,
    ) -> Result<Membership, ServiceError> {
        let audit = self.audit(
            actor,
            AuditAction::MemberPut,
            &user_id,
            Some(&org.id),
            json!({"role": role.as_str()}),
        )?;
        let change = self
            .store
            .put_membership(&org.id, &user_id, role, &audit)
            .await?;
        owner_kept(change, &user_id)?;
        Ok(Membership {
            org_id: org.id,
            org_name: org.name,
            user_id,
            email,
            role,
        })
    }

    pub async fn members(
        &self,
        actor: &Caller,
        org: &str,
        window: Window,
    ) -> Result<Vec<Membership>, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ViewMembers).await?;
        Ok(self.store.members_of_org(&org.id, window).await?)
    }

    /// Changes a member's role.
    pub async fn set_member_role(
        &self,
        actor: &Caller,
        org: &str,
        user: &str,
        role: Role,
    ) -> Result<Membership, ServiceError> {
        // Who may manage members is settled before anything about them is revealed.
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let member = self.member(&org.id, user).await?;
        let (user_id, email) = (member.user_id, member.email);
        self.put_member(actor, org, user_id, email, role).await
    }

    /// Takes a member out of the organization: their API tokens for it stop being exchanged
    /// and their refresh tokens there stop working.
    /// `user` is the member's email or user id.
    pub async fn remove_member(
        &self,
        actor: &Caller,
        org: &str,
        user: &str,
    ) -> Result<(), ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let member = self.member(&org.id, user).await?;
        let audit = self.audit(
            actor,
            AuditAction::MemberRemove,
            &member.user_id,
            Some(&member.org_id),
            json!({}),
        )?;
        let change = self
            .store
            .delete_membership(&member.org_id, &member.user_id, &audit)
            .await?;
        owner_kept(change, user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::fields;

    #[test]
    fn a_members_email_and_role_are_checked_together() {
        assert_eq!(
            fields(member_fields("user", "nobody", "boss")),
            ["user", "role"]
        );
        assert_eq!(fields(member_fields("email", "a@b", "chief")), ["role"]);
        assert_eq!(
            member_fields("email", " Neo@Acme.example ", "developer"),
            Ok(("neo@acme.example".to_string(), Role::Developer))
        );
    }
}
