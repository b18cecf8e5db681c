//! The management service: every change to configuration data, with its validation, its
//! policy check and its audit event. The CLI, the console and the management API all call
//! this, so they cannot disagree about the rules.

mod added_apps;
mod api_tokens;
mod apps;
mod audit;
mod invitations;
mod members;
mod organizations;
mod password_resets;
mod passwords;
mod resource_servers;
mod users;

use crate::model::{
    Actor, App, AuditEvent, Caller, Membership, Organization, Role, TokenLimits, User,
};
use crate::policy::{self, Action};
use crate::scope::ScopeSet;
use crate::store::{AppStore, AuditLog, MemberStore, OrganizationStore, Registry, UserStore};
use crate::token::AccessTokenClaims;
use crate::{Clock, FieldErrors, ServiceError, secret};
use serde_json::json;
use std::sync::Arc;

pub use api_tokens::{API_TOKEN_DEFAULT_TTL, API_TOKEN_MAX_TTL, NewApiToken};
pub use apps::{AppChanges, AppView, AppWithSecret, NewApp, validate_redirect_uri};
pub use invitations::{Acceptance, INVITATION_TTL, InvitationView};
pub use password_resets::{PASSWORD_RESET_TTL, ResetRequestError, ResetView};
pub use resource_servers::{ResourceServerChanges, SCOPE_DESCRIPTION_MAX};

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
        action: &str,
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
        action: &str,
        target: &str,
        org_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<AuditEvent, ServiceError> {
        Ok(AuditEvent {
            id: secret::ordered_id("aud_", self.clock.now())?,
            at: self.clock.now(),
            actor: actor.audit_name(),
            action: action.into(),
            target: target.into(),
            org_id: org_id.map(str::to_string),
            source: actor.source.clone(),
            outcome: "success".into(),
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
                action.name(),
                org_id,
                Some(org_id),
                json!({"refused": why}),
            )?;
            event.outcome = "refused".into();
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
mod tests {
    use super::*;
    use crate::model::{ResourceServer, ScopeDefinition};

    /// The fields an `InvalidFields` refusal names, in order.
    pub(super) fn fields<T: std::fmt::Debug>(checked: Result<T, ServiceError>) -> Vec<String> {
        match checked {
            Err(ServiceError::InvalidFields(errors)) => {
                assert!(errors.iter().all(|e| !e.message.is_empty()), "{errors:?}");
                errors.into_iter().map(|e| e.field).collect()
            }
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    pub(super) fn scope(name: &str, description: &str) -> ScopeDefinition {
        ScopeDefinition {
            name: name.into(),
            description: description.into(),
        }
    }

    pub(super) fn resource_server(
        identifier: &str,
        name: &str,
        scopes: Vec<ScopeDefinition>,
    ) -> ResourceServer {
        ResourceServer {
            id: "rs_1".into(),
            org_id: "org_1".into(),
            identifier: identifier.into(),
            name: name.into(),
            scopes,
            created_at: 0,
        }
    }

    /// A change each front end can ask `Manager` for, run against a fresh world.
    #[derive(Debug, Clone, Copy)]
    enum Call {
        CreateApp,
        UpdateApp,
        DeleteApp,
        RegenerateSecret,
        AddApp,
        RemoveAddedApp,
        CreateResourceServer,
        UpdateResourceServer,
        DeleteResourceServer,
        AddMember,
        SetMemberRole,
        RemoveMember,
        InviteMember,
        WithdrawInvitation,
        ReadAudit,
    }

    /// What a call acts on, made by the operator beforehand.
    struct Stage {
        app: String,
        rs: String,
        invitation: String,
    }

    async fn stage(w: &crate::testing::World) -> Stage {
        use crate::model::AppType;
        use crate::testing::{new_app, ok};
        let op = Caller::operator();
        let org = w.org.name.as_str();
        let rs = ok(w
            .manager
            .create_resource_server(
                &op,
                org,
                "https://api.acme.test",
                "API",
                vec![scope("read", "Read")],
            )
            .await)
        .id;
        let new = new_app(AppType::Server, "Reports", &["read"]);
        let app = ok(w.manager.create_app(&op, org, new).await).app.client_id;
        let invited = w.manager.invite_member(&op, org, "new@acme.test", "member");
        let invitation = ok(invited.await).0.id;
        Stage {
            app,
            rs,
            invitation,
        }
    }

    async fn run(
        w: &crate::testing::World,
        s: &Stage,
        who: &Caller,
        call: Call,
    ) -> Result<(), ServiceError> {
        use crate::model::AppType;
        let (m, org) = (&w.manager, w.org.name.as_str());
        let app = Some(org);
        let member = w.member.email.as_str();
        match call {
            Call::CreateApp => {
                let new = crate::testing::new_app(AppType::Web, "Shop", &["profile"]);
                m.create_app(who, org, new).await.map(drop)
            }
            Call::UpdateApp => {
                let changes = AppChanges {
                    name: Some("Renamed".into()),
                    ..Default::default()
                };
                m.update_app(who, app, &s.app, changes).await.map(drop)
            }
            Call::DeleteApp => m.delete_app(who, app, &s.app).await,
            Call::RegenerateSecret => m.regenerate_secret(who, app, &s.app, 0).await.map(drop),
            Call::AddApp => {
                let scopes = vec!["read".to_string()];
                m.add_app_to_organization(who, &s.app, org, scopes)
                    .await
                    .map(drop)
            }
            Call::RemoveAddedApp => m.remove_app_from_organization(who, &s.app, org).await,
            Call::CreateResourceServer => m
                .create_resource_server(who, org, "https://b.acme.test", "B", vec![scope("b", "B")])
                .await
                .map(drop),
            Call::UpdateResourceServer => {
                let changes = ResourceServerChanges {
                    name: Some("Renamed".into()),
                    scopes: None,
                };
                m.update_resource_server(who, org, &s.rs, changes)
                    .await
                    .map(drop)
            }
            Call::DeleteResourceServer => m.delete_resource_server(who, org, &s.rs).await,
            Call::AddMember => m.add_member(who, org, member, "developer").await.map(drop),
            Call::SetMemberRole => m
                .set_member_role(who, org, member, "developer")
                .await
                .map(drop),
            Call::RemoveMember => m.remove_member(who, org, member).await,
            Call::InviteMember => m
                .invite_member(who, org, "x@acme.test", "member")
                .await
                .map(drop),
            Call::WithdrawInvitation => m.withdraw_invitation(who, org, &s.invitation).await,
            Call::ReadAudit => m
                .audit_events(
                    who,
                    org,
                    &crate::store::AuditQuery {
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .map(drop),
        }
    }

    /// Every change `Manager` makes, tried by the role just below the one it needs (refused,
    /// and the refusal recorded for the owners) and by that role (done, and recorded).
    #[tokio::test]
    async fn each_change_is_refused_below_its_role_and_audited_at_it() {
        use crate::testing::World;
        use Call::*;
        // (call, the role it needs, the policy action a refusal records, the event a success
        // records: None for a read).
        let table: [(Call, Role, &str, Option<&str>); 15] = [
            (CreateApp, Role::Developer, "app.manage", Some("app.create")),
            (UpdateApp, Role::Developer, "app.manage", Some("app.update")),
            (DeleteApp, Role::Developer, "app.manage", Some("app.delete")),
            (
                RegenerateSecret,
                Role::Owner,
                "app.regenerate_secret",
                Some("app.regenerate_secret"),
            ),
            (
                AddApp,
                Role::Owner,
                "app.add_to_organization",
                Some("app.add_to_organization"),
            ),
            (
                RemoveAddedApp,
                Role::Owner,
                "app.add_to_organization",
                Some("app.remove_from_organization"),
            ),
            (
                CreateResourceServer,
                Role::Developer,
                "resource_server.manage",
                Some("resource_server.create"),
            ),
            (
                UpdateResourceServer,
                Role::Developer,
                "resource_server.manage",
                Some("resource_server.update"),
            ),
            (
                DeleteResourceServer,
                Role::Developer,
                "resource_server.manage",
                Some("resource_server.delete"),
            ),
            (AddMember, Role::Owner, "member.manage", Some("member.put")),
            (
                SetMemberRole,
                Role::Owner,
                "member.manage",
                Some("member.put"),
            ),
            (
                RemoveMember,
                Role::Owner,
                "member.manage",
                Some("member.remove"),
            ),
            (
                InviteMember,
                Role::Owner,
                "member.manage",
                Some("member.invite"),
            ),
            (
                WithdrawInvitation,
                Role::Owner,
                "member.manage",
                Some("member.withdraw_invitation"),
            ),
            (ReadAudit, Role::Owner, "audit.view", None),
        ];
        for (call, needed, action, recorded) in table {
            let w = World::new().await;
            let s = stage(&w).await;
            // AddApp and RemoveAddedApp need the app added first / not yet added.
            if let RemoveAddedApp = call {
                run(&w, &s, &Caller::operator(), AddApp).await.unwrap();
            }
            let (below, at) = match needed {
                Role::Owner => (&w.developer, &w.owner),
                _ => (&w.member, &w.developer),
            };
            let before = w.store.audit_trail().len();
            let refused = run(&w, &s, &World::signed_in(below), call).await;
            assert!(
                matches!(refused, Err(ServiceError::Forbidden(_))),
                "{call:?}: {refused:?}"
            );
            let trail = w.store.audit_trail();
            assert_eq!(trail.len(), before + 1, "{call:?}: one refusal recorded");
            let event = &trail[before];
            assert_eq!(
                (
                    event.action.as_str(),
                    event.outcome.as_str(),
                    event.actor.as_str()
                ),
                (action, "refused", format!("user:{}", below.id).as_str()),
                "{call:?}"
            );
            assert_eq!(event.org_id.as_deref(), Some(w.org.id.as_str()), "{call:?}");

            run(&w, &s, &World::signed_in(at), call)
                .await
                .unwrap_or_else(|e| panic!("{call:?}: {e:?}"));
            let trail = w.store.audit_trail();
            match recorded {
                Some(recorded) => {
                    let event = trail.last().unwrap();
                    assert_eq!(trail.len(), before + 2, "{call:?}: one change recorded");
                    assert_eq!(
                        (
                            event.action.as_str(),
                            event.outcome.as_str(),
                            event.actor.as_str()
                        ),
                        (recorded, "success", format!("user:{}", at.id).as_str()),
                        "{call:?}"
                    );
                }
                None => assert_eq!(trail.len(), before + 1, "{call:?}: a read records nothing"),
            }
        }
    }

    /// A rehearsal (the API checking a retried request) passes every check and writes nothing.
    #[tokio::test]
    async fn a_rehearsal_writes_nothing() {
        let w = crate::testing::World::new().await;
        let s = stage(&w).await;
        let mut owner = crate::testing::World::signed_in(&w.owner);
        owner.rehearsal = true;
        let before = w.store.audit_trail().len();
        for call in [
            Call::CreateApp,
            Call::DeleteApp,
            Call::AddMember,
            Call::InviteMember,
        ] {
            let result = run(&w, &s, &owner, call).await;
            assert!(
                matches!(result, Err(ServiceError::Rehearsed)),
                "{call:?}: {result:?}"
            );
        }
        assert_eq!(w.store.audit_trail().len(), before);
        assert!(w.store.client(&s.app).await.unwrap().is_some());
    }
}
