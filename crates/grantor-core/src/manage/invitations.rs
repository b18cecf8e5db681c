//! Invitations: single-use links that let a person join an organization.

use super::Governed;
use super::users::normalize_email;
use super::{Manager, invalid};
use crate::model::{Actor, AuditAction, Caller, Invitation, Role};
use crate::policy::{self, Action};
use crate::store::{InvitationStore, Registry, UserStore};
use crate::{ServiceError, secret};
use serde_json::json;

/// Invitation links work for a week.
pub const INVITATION_TTL: i64 = 7 * 24 * 3600;

/// An open invitation as the holder of its link sees it.
#[derive(Debug, Clone)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub org_name: String,
    /// The id of the user the invitation's email belongs to, if there is one: they accept
    /// by signing in; anyone else sets a name and password.
    pub existing_user: Option<String>,
}

/// How the holder of an invitation link accepts it.
#[derive(Debug, Clone)]
pub enum Acceptance<'a> {
    /// The signed-in user `user_id`, who must be the invited one.
    SignedIn { user_id: &'a str },
    /// A new person, with the name and password of their new account.
    NewUser { name: &'a str, password: &'a str },
}

impl<S: Governed + UserStore + InvitationStore + Registry> Manager<S> {
    /// An owner invites `email` to join `org` with `role`: a single-use link that expires;
    /// its token exists in clear only in the answer.
    pub async fn invite_member(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        role: Role,
    ) -> Result<(Invitation, String), ServiceError> {
        self.invite(actor, org, email, role, false).await
    }

    /// As [`Self::invite_member`]; `mailed` when the caller mails the link to `email` (and
    /// so accepting it proves the address).
    pub async fn invite(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        role: Role,
        mailed: bool,
    ) -> Result<(Invitation, String), ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let email = normalize_email(email).map_err(|e| ServiceError::field("email", e))?;
        if let Some(user) = self.store.user_by_email(&email).await?
            && self.store.membership(&org.id, &user.id).await?.is_some()
        {
            return Err(ServiceError::field(
                "email",
                format!("{email} is already a member; change their role in the list instead"),
            ));
        }
        let token = secret::generate(secret::Kind::Invitation)?;
        let now = self.clock.now();
        let invitation = Invitation {
            id: secret::new_id("inv_")?,
            org_id: org.id.clone(),
            email,
            role,
            token_hash: secret::hash(&token),
            created_by: actor.audit_name(),
            created_at: now,
            expires_at: now + INVITATION_TTL,
            accepted_at: None,
            mailed,
        };
        let audit = self.audit(
            actor,
            AuditAction::MemberInvite,
            &invitation.id,
            Some(&org.id),
            json!({"email": invitation.email, "role": role.as_str(), "mailed": mailed}),
        )?;
        self.store.create_invitation(&invitation, &audit).await?;
        Ok((invitation, token))
    }

    /// The organization's invitations not yet accepted (owners).
    pub async fn invitations(
        &self,
        actor: &Caller,
        org: &str,
    ) -> Result<Vec<Invitation>, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        Ok(self.store.pending_invitations(&org.id).await?)
    }

    /// Withdraws an invitation that was not accepted yet: its link stops working.
    pub async fn withdraw_invitation(
        &self,
        actor: &Caller,
        org: &str,
        id: &str,
    ) -> Result<(), ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let audit = self.audit(
            actor,
            AuditAction::MemberWithdrawInvitation,
            id,
            Some(&org.id),
            json!({}),
        )?;
        if self.store.delete_invitation(&org.id, id, &audit).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("invitation {id:?}")))
        }
    }

    /// The open invitation behind a link's token. Holding the token is what entitles one
    /// to see it, as the owner who made it decided.
    pub async fn invitation(&self, token: &str) -> Result<InvitationView, ServiceError> {
        let gone = || {
            invalid(
                "this invitation link was already used, has expired or was withdrawn; ask the organization's owner for a new one",
            )
        };
        if !secret::has_shape(token, secret::Kind::Invitation) {
            return Err(gone());
        }
        let invitation = self
            .store
            .invitation_by_hash(&secret::hash(token))
            .await?
            .filter(|i| i.accepted_at.is_none() && i.expires_at > self.clock.now())
            .ok_or_else(gone)?;
        let org_name = self.organization(&invitation.org_id).await?.name;
        let existing_user = self
            .store
            .user_by_email(&invitation.email)
            .await?
            .map(|u| u.id);
        Ok(InvitationView {
            invitation,
            org_name,
            existing_user,
        })
    }

    /// Refuses an invitation whose sender may no longer manage the organization's members
    /// (demoted, removed, disabled, or an admin client that lost the scope): the link stands
    /// for their decision, which holds only while they may still make it.
    async fn inviter_still_may_invite(&self, invitation: &Invitation) -> Result<(), ServiceError> {
        let withdrawn = || {
            invalid(
                "whoever sent this invitation may no longer invite members; ask the organization's owner for a new one",
            )
        };
        let org_id = invitation.org_id.as_str();
        let inviter = match invitation.created_by.split_once(':') {
            None if invitation.created_by == "cli" => Actor::Operator,
            Some(("user", user_id)) => {
                let user = self
                    .store
                    .user(user_id)
                    .await?
                    .filter(|u| u.disabled_at.is_none())
                    .ok_or_else(withdrawn)?;
                Actor::User {
                    user_id: user.id,
                    platform_admin: user.platform_admin,
                    token: None,
                }
            }
            Some(("app", client_id)) => {
                let client = self.store.client(client_id).await?.ok_or_else(withdrawn)?;
                let scopes = client
                    .org_grants
                    .iter()
                    .find(|g| g.org_id == org_id)
                    .map(|g| g.scopes.intersection(&client.app.scopes))
                    .ok_or_else(withdrawn)?;
                Actor::AdminClient {
                    client_id: client_id.to_string(),
                    org_id: org_id.to_string(),
                    scopes,
                }
            }
            _ => return Err(withdrawn()),
        };
        let role = self.role_of(&inviter, org_id).await?;
        policy::check(&inviter, Action::ManageMembers, Some(org_id), role).map_err(|_| withdrawn())
    }

    /// Accepts an invitation, once: the invited user joins with its role, a new person with
    /// a new account. No role is checked here: the owner decided when inviting, and the
    /// link's token stands for that decision. Returns the id of the user who joined.
    pub async fn accept_invitation(
        &self,
        token: &str,
        how: Acceptance<'_>,
        source: Option<String>,
    ) -> Result<String, ServiceError> {
        let view = self.invitation(token).await?;
        let invitation = &view.invitation;
        self.inviter_still_may_invite(invitation).await?;
        let (user_id, new_user) = match (how, view.existing_user) {
            (Acceptance::SignedIn { user_id }, Some(invited)) if invited == user_id => {
                (invited, None)
            }
            (_, Some(_)) => {
                return Err(ServiceError::Forbidden(format!(
                    "this invitation is for {}: sign in with that account to accept it",
                    invitation.email
                )));
            }
            (Acceptance::NewUser { name, password }, None) => {
                let mut user =
                    self.new_user(&invitation.email, Some(password), Some(name), false)?;
                // A link mailed to the address proves it; one handed over does not.
                if invitation.mailed {
                    user.email_verified_at = Some(self.clock.now());
                }
                (user.id.clone(), Some(user))
            }
            (Acceptance::SignedIn { .. }, None) => {
                return Err(invalid(format!(
                    "this invitation is for {}, who has no account yet: sign out, then open the link again to create it",
                    invitation.email
                )));
            }
        };
        let caller = Caller {
            actor: Actor::User {
                user_id: user_id.clone(),
                platform_admin: false,
                token: None,
            },
            source,
            rehearsal: false,
        };
        let audit = self.audit(
            &caller,
            AuditAction::MemberAcceptInvitation,
            &invitation.id,
            Some(&invitation.org_id),
            json!({"role": invitation.role.as_str(), "new_user": new_user.is_some()}),
        )?;
        let accepted = self
            .store
            .accept_invitation(
                invitation,
                &user_id,
                new_user.as_ref(),
                self.clock.now(),
                &audit,
            )
            .await?;
        if accepted {
            Ok(user_id)
        } else {
            Err(invalid(
                "this invitation link was already used or has expired; ask the organization's owner for a new one",
            ))
        }
    }
}
