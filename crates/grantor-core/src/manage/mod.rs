//! The management service: every change to configuration data, with its validation, its
//! policy check and its audit event. The CLI, the console and the management API all call
//! this, so they cannot disagree about the rules.

mod added_apps;
mod api_tokens;
mod apps;
mod audit;
mod email_verifications;
mod invitations;
mod members;
mod organizations;
mod passkeys;
mod password_resets;
mod passwords;
mod registrations;
mod resource_servers;
mod second_factors;
mod sessions;
mod users;

use crate::model::{
    Actor, App, AuditAction, AuditEvent, AuditOutcome, Caller, Membership, Organization, Role,
    TokenLimits, User,
};
use crate::policy::{self, Action};
use crate::scope::ScopeSet;
use crate::store::{AppStore, AuditLog, MemberStore, OrganizationStore, Registry, UserStore};
use crate::token::AccessTokenClaims;
use crate::{Clock, FieldErrors, ServiceError, secret};
use serde_json::json;
use std::sync::Arc;

pub use api_tokens::{API_TOKEN_DEFAULT_TTL, API_TOKEN_MAX_TTL, NewApiToken};
pub use apps::{AppChanges, AppWithSecret, NewApp, validate_redirect_uri};
pub use email_verifications::{EMAIL_VERIFICATION_TTL, EmailLinkError};
pub use invitations::{Acceptance, INVITATION_TTL, InvitationView};
pub use members::{member_fields, role_field};
pub use passkeys::{
    MAX_PASSKEYS, PASSKEY_NAME_MAX, PasskeyAssertion, PasskeyError, PasskeySignIn, PasskeyView,
    Passkeys,
};
pub use password_resets::{PASSWORD_RESET_TTL, ResetRequestError, ResetView};
pub use resource_servers::{ResourceServerChanges, SCOPE_DESCRIPTION_MAX};
pub use second_factors::{CodeError, SecondFactorUsed, SecondFactors, TotpEnrolment, enrolled};
pub use sessions::{
    LAST_SEEN_EVERY, SESSIONS_LISTED, SessionView, USER_AGENT_MAX, clean_user_agent,
    describe_browser,
};

pub struct Manager<S> {
    store: S,
    clock: Arc<dyn Clock>,
    /// The issuer: its own URLs are no organization's resource server.
    issuer: String,
}

impl<S> Manager<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>, issuer: impl Into<String>) -> Self {
        Self {
            store,
            clock,
            issuer: issuer.into(),
        }
    }
}

/// Refuses control characters (newlines, tabs, NUL) in `value`, the field `field`: names and
/// identifiers show in pages, lists and the audit log, where such a character could forge a
/// line, and PostgreSQL refuses NUL.
pub(super) fn refuse_control_characters(invalid: &mut FieldErrors, field: &str, value: &str) {
    if value.chars().any(char::is_control) {
        invalid.add(
            field,
            format!("{field} must not contain control characters (newlines, tabs, NUL)"),
        );
    }
}

pub(super) fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

/// What every part of `Manager` needs: the organization, the caller's role in it, and the
/// audit log that records refusals.
pub trait Governed: OrganizationStore + MemberStore + AuditLog {}

impl<T: OrganizationStore + MemberStore + AuditLog> Governed for T {}

impl<S: Governed> Manager<S> {
    /// The audit event of a change about to be written, the last step before every write:
    /// a rehearsal stops here, having passed every check.
    pub(super) fn audit(
        &self,
        actor: &Caller,
        action: AuditAction,
        target: &str,
        org_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<AuditEvent, ServiceError> {
        if actor.rehearsal {
            return Err(ServiceError::Rehearsed);
        }
        self.event(actor, action, target, org_id, details)
    }

    fn event(
        &self,
        actor: &Caller,
        action: AuditAction,
        target: &str,
        org_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<AuditEvent, ServiceError> {
        Ok(AuditEvent {
            id: secret::ordered_id("aud_", self.clock.now())?,
            at: self.clock.now(),
            actor: actor.audit_name(),
            action,
            target: target.into(),
            org_id: org_id.map(str::to_string),
            source: actor.source.clone(),
            outcome: AuditOutcome::Success,
            details,
        })
    }

    pub async fn organization(&self, id_or_name: &str) -> Result<Organization, ServiceError> {
        self.store
            .organization(id_or_name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("organization {id_or_name:?}")))
    }

    /// Organization `org` (id or name), if `actor` may do `action` there.
    pub(super) async fn org_allowing(
        &self,
        actor: &Caller,
        org: &str,
        action: Action,
    ) -> Result<Organization, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, action, &org.id).await?;
        Ok(org)
    }

    /// A member of `org_id`, by user id or email.
    pub(super) async fn member(
        &self,
        org_id: &str,
        user: &str,
    ) -> Result<Membership, ServiceError> {
        self.store
            .member(org_id, user)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("member {user:?}")))
    }

    /// The actor's role in `org_id`, for policy checks.
    pub(super) async fn role_of(
        &self,
        actor: &Actor,
        org_id: &str,
    ) -> Result<Option<Role>, ServiceError> {
        let Actor::User { user_id, .. } = actor else {
            return Ok(None);
        };
        Ok(self
            .store
            .membership(org_id, user_id)
            .await?
            .map(|m| m.role))
    }

    /// Checks `action` in `org_id`; an organization the actor may not see is "not found".
    pub(super) async fn authorize(
        &self,
        actor: &Caller,
        action: Action,
        org_id: &str,
    ) -> Result<(), ServiceError> {
        let role = self.role_of(actor, org_id).await?;
        if !policy::can_see(actor, org_id, role) {
            return Err(ServiceError::NotFound("organization".into()));
        }
        let checked = policy::check(actor, action, Some(org_id), role);
        if let Err(ServiceError::Forbidden(why)) = &checked {
            // A refusal changes nothing, but the organization's owners should see it.
            let mut event = self.event(
                actor,
                AuditAction::Attempt(action),
                org_id,
                Some(org_id),
                json!({"refused": why}),
            )?;
            event.outcome = AuditOutcome::Refused;
            self.store.append_audit_event(&event).await?;
        }
        checked
    }
}

impl<S: Governed + AppStore> Manager<S> {
    /// App `client_id`, if `actor` may do `action` in its organization, and if it belongs to
    /// `org` when the caller names one (as a URL path does; the CLI names apps by ID alone).
    /// Otherwise "not found", as for an app that does not exist.
    pub(super) async fn app_allowing(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
        action: Action,
    ) -> Result<App, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("app {client_id:?}"));
        let app = self.store.app(client_id).await?.ok_or_else(not_found)?;
        if let Some(org) = org
            && self.organization(org).await?.id != app.org_id
        {
            return Err(not_found());
        }
        if !policy::reaches_app(actor, &app.client_id) {
            return Err(not_found());
        }
        self.authorize(actor, action, &app.org_id).await?;
        Ok(app)
    }
}

impl<S: Governed + UserStore> Manager<S> {
    /// The user named by email or id: the actor itself, unless the operator acts for
    /// someone.
    pub(super) async fn user_for(&self, actor: &Caller, user: &str) -> Result<User, ServiceError> {
        let found = if user.starts_with("usr_") {
            self.store.user(user).await?
        } else {
            self.store
                .user_by_email(&user.trim().to_lowercase())
                .await?
        };
        found
            .filter(|u| policy::owns(actor, &u.id))
            .ok_or_else(|| ServiceError::NotFound(format!("user {user:?}")))
    }
}

impl<S: Registry + UserStore> Manager<S> {
    /// Who a management API call acts as, from its verified access token: an admin client
    /// (a server app's own token), still holding what its organization granted it, or a
    /// user confined to the token's organization and scopes.
    pub async fn token_actor(&self, claims: &AccessTokenClaims) -> Result<Actor, ServiceError> {
        let scopes = ScopeSet::parse(&claims.scope).unwrap_or_default();
        // Whatever its audience, a token without one of Grantor's own scopes is not for
        // this API: a resource server's scope never opens it.
        if !scopes.has_management() {
            return Err(ServiceError::Forbidden(
                "this token carries none of the management API's grantor:* scopes".into(),
            ));
        }
        let gone = || ServiceError::NotFound("the token's subject".into());
        if claims.sub == claims.client_id {
            let client = self
                .store
                .client(&claims.client_id)
                .await?
                .ok_or_else(gone)?;
            let granted = client
                .org_grants
                .iter()
                .find(|g| g.org_id == claims.org_id)
                .map(|g| g.scopes.intersection(&scopes))
                .ok_or_else(gone)?;
            return Ok(Actor::AdminClient {
                client_id: claims.client_id.clone(),
                org_id: claims.org_id.clone(),
                scopes: granted,
            });
        }
        let user = self
            .store
            .user(&claims.sub)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or_else(gone)?;
        Ok(Actor::User {
            user_id: user.id,
            platform_admin: user.platform_admin,
            token: Some(TokenLimits {
                org_id: claims.org_id.clone(),
                scopes,
            }),
        })
    }
}

#[cfg(test)]
mod tests;
