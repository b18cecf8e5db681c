//! The management service: every change to configuration data, with its validation, its
//! policy check and its audit event. The CLI, the console and the management API all call
//! this, so they cannot disagree about the rules.

use crate::model::{
    Actor, ApiToken, App, AppType, AuditEvent, Caller, Invitation, LegacyGrant, Membership,
    OrgAccessGrant, Organization, ResourceServer, Role, ScopeDefinition, TokenLimits, User,
};
use crate::policy::{self, Action};
use crate::scope::{self, ScopeSet};
use crate::store::{AuditQuery, ConsentView, MembershipChange, OrgResources, Storage, Window};
use crate::token::AccessTokenClaims;
use crate::{Clock, FieldError, FieldErrors, ServiceError, password, secret};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Manager<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
    /// The issuer: its own URLs are no organization's resource server.
    pub issuer: String,
}

/// What it takes to register an app.
#[derive(Debug, Clone)]
pub struct NewApp {
    pub app_type: AppType,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub legacy_grants: Vec<LegacyGrant>,
    pub access_token_ttl: Option<i64>,
}

/// What may change about a resource server; `None` keeps the current value.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<ScopeDefinition>>,
}

/// What people read on the approval page about a scope stays short.
pub const SCOPE_DESCRIPTION_MAX: usize = 200;

/// A resource server for the audit log: identifier and scope names.
fn describe_resource_server(rs: &ResourceServer) -> serde_json::Value {
    let scopes: Vec<&str> = rs.scopes.iter().map(|s| s.name.as_str()).collect();
    json!({"identifier": rs.identifier, "scopes": scopes})
}

/// Refuses control characters (newlines, tabs, NUL) in `value`, the field `field`: names and
/// identifiers show in pages, lists and the audit log, where such a character could forge a
/// line, and PostgreSQL refuses NUL.
fn refuse_control_characters(invalid: &mut FieldErrors, field: &str, value: &str) {
    if value.chars().any(char::is_control) {
        invalid.add(
            field,
            format!("{field} must not contain control characters (newlines, tabs, NUL)"),
        );
    }
}

/// What may change about an app after it was registered; `None` keeps the current value.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub access_token_ttl: Option<i64>,
}

/// API tokens live 90 days unless asked otherwise, and at most a year.
pub const API_TOKEN_DEFAULT_TTL: i64 = 90 * 24 * 3600;
pub const API_TOKEN_MAX_TTL: i64 = 365 * 24 * 3600;

/// What a user asks for in an API token.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub name: String,
    pub scopes: Vec<String>,
    /// Seconds from now; 90 days when absent.
    pub expires_in: Option<i64>,
}

/// An app together with its secret, which exists in clear only in this value.
#[derive(Debug, Clone)]
pub struct AppWithSecret {
    pub app: App,
    pub client_secret: Option<String>,
    /// When the previous secret stops working (regeneration with a grace period).
    pub previous_secret_valid_until: Option<i64>,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

/// Checks a redirect URI for an app type (RFC 9700 2.1, RFC 8252 7): absolute, no fragment;
/// web apps use https (or http on loopback for development); native apps may also use a
/// private-use scheme.
pub fn validate_redirect_uri(app_type: AppType, uri: &str) -> Result<(), ServiceError> {
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "redirect URI {uri:?} must not contain spaces or control characters"
        )));
    }
    let parsed = url::Url::parse(uri)
        .map_err(|_| invalid(format!("redirect URI {uri:?} is not an absolute URI")))?;
    if parsed.fragment().is_some() {
        return Err(invalid(format!(
            "redirect URI {uri:?} must not contain a fragment"
        )));
    }
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    let ok = match (parsed.scheme(), app_type) {
        ("https", _) => true,
        ("http", _) => loopback,
        (other, AppType::Native) => other.contains('.'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "redirect URI {uri:?} is not allowed: use https, http on a loopback address, or (native apps) a private-use scheme such as com.example.app:/callback"
        )))
    }
}

/// An email address as Grantor keeps it: trimmed and lowercase.
fn normalize_email(email: &str) -> Result<String, String> {
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
    if password.is_some_and(|p| p.chars().count() < 8) {
        invalid.add("password", "a password must have at least 8 characters");
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.len() > 100) {
        invalid.add("name", "a name must be at most 100 characters");
    }
    refuse_control_characters(&mut invalid, "name", name.unwrap_or_default());
    Ok((invalid.finish_with(email)?, name))
}

/// A would-be member's email (the field `email_field`) and role, both checked: as Grantor keeps
/// the email, and the role parsed from its name.
fn member_fields(
    email_field: &str,
    email: &str,
    role: &str,
) -> Result<(String, Role), ServiceError> {
    let mut invalid = FieldErrors::default();
    let email = invalid.keep(email_field, normalize_email(email));
    let role = invalid.keep("role", role.parse::<Role>());
    invalid.finish_with(email.zip(role))
}

/// A resource server's fields against their rules: an absolute identifier that is none of the
/// issuer's own URLs, a name, and at least one scope, each a valid, unreserved name listed
/// once, with a short description (which may be empty: the approval page then shows the name).
fn resource_server_fields(rs: &ResourceServer, issuer: &str) -> FieldErrors {
    let mut invalid = FieldErrors::default();
    let identifier = &rs.identifier;
    match url::Url::parse(identifier) {
        _ if identifier.chars().any(|c| c.is_control() || c.is_whitespace()) => invalid.add(
            "identifier",
            format!("resource identifier {identifier:?} must not contain spaces or control characters"),
        ),
        Ok(_) if policy::is_reserved_identifier(issuer, identifier) => invalid.add(
            "identifier",
            format!("resource identifier {identifier:?} is one of this server's own URLs ({issuer} and under it), which no resource server may take"),
        ),
        Err(_) => invalid.add(
            "identifier",
            format!("resource identifier {identifier:?} is not an absolute URI"),
        ),
        Ok(parsed) if parsed.fragment().is_some() => invalid.add(
            "identifier",
            "a resource identifier must not contain a fragment",
        ),
        Ok(_) => {}
    }
    if rs.name.is_empty() || rs.name.len() > 100 {
        invalid.add(
            "name",
            "a resource server's name must be 1 to 100 characters",
        );
    }
    refuse_control_characters(&mut invalid, "name", &rs.name);
    if rs.scopes.is_empty() {
        invalid.add("scopes", "a resource server declares at least one scope");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, s) in rs.scopes.iter().enumerate() {
        let name = &s.name;
        let problem = if !scope::is_valid_token(name) {
            Some(format!("{name:?} is not a valid scope name"))
        } else if scope::is_builtin(name) || scope::is_management(name) {
            Some(format!(
                "{name:?} is a built-in scope (the grantor: prefix is reserved)"
            ))
        } else if !seen.insert(name.as_str()) {
            Some(format!("scope {name:?} is listed twice"))
        } else {
            None
        };
        if let Some(message) = problem {
            invalid.add(format!("scopes[{i}].name"), message);
        }
        refuse_control_characters(
            &mut invalid,
            &format!("scopes[{i}].description"),
            &s.description,
        );
        if s.description.chars().count() > SCOPE_DESCRIPTION_MAX {
            invalid.add(
                format!("scopes[{i}].description"),
                format!(
                    "the description of scope {name:?} must be at most {SCOPE_DESCRIPTION_MAX} characters"
                ),
            );
        }
    }
    invalid
}

/// An API token's name, scopes and lifetime (seconds), checked: a `role`'s token may hold
/// the management scopes `allowed` it, OIDC scopes and the scopes of the resource servers of
/// its organization `org_id`.
fn api_token_fields(
    new: NewApiToken,
    role: Role,
    allowed: &ScopeSet,
    index: &OrgResources,
) -> Result<(String, ScopeSet, i64), ServiceError> {
    let mut invalid = FieldErrors::default();
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        invalid.add("name", "an API token's name must be 1 to 100 characters");
    }
    refuse_control_characters(&mut invalid, "name", name);
    let scopes: ScopeSet = new.scopes.into_iter().collect();
    if scopes.is_empty() {
        invalid.add("scopes", "an API token needs at least one scope");
    }
    let refused: Vec<&str> = scopes
        .iter()
        .filter(|s| {
            if scope::is_management(s) {
                !allowed.contains(s)
            } else {
                !scope::is_oidc(s) && index.servers_of(s).is_empty()
            }
        })
        .collect();
    if !refused.is_empty() {
        invalid.add(
            "scopes",
            format!(
                "not scopes a {role} may put in an API token: {}",
                refused.join(" ")
            ),
        );
    }
    let lifetime = new.expires_in.unwrap_or(API_TOKEN_DEFAULT_TTL);
    if !(60..=API_TOKEN_MAX_TTL).contains(&lifetime) {
        invalid.add(
            "expires_in",
            "an API token expires after 60 seconds to one year (31536000 seconds)",
        );
    }
    invalid.finish()?;
    Ok((name.to_string(), scopes, lifetime))
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

impl<S: Storage> Manager<S> {
    /// A user record, checked: a real-looking email, a password of 8 characters or more if
    /// any. Without one, the account cannot sign in with a password until it is given one
    /// (an operator provisioning members ahead of their first sign-in).
    fn new_user(
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
        })
    }

    /// The audit event of a change about to be written, the last step before every write:
    /// a rehearsal stops here, having passed every check.
    fn audit(
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
    async fn org_allowing(
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
    async fn member(&self, org_id: &str, user: &str) -> Result<Membership, ServiceError> {
        self.store
            .member(org_id, user)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("member {user:?}")))
    }

    /// The actor's role in `org_id`, for policy checks.
    async fn role_of(&self, actor: &Actor, org_id: &str) -> Result<Option<Role>, ServiceError> {
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
    async fn authorize(
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

    pub async fn create_organization(
        &self,
        actor: &Caller,
        name: &str,
    ) -> Result<Organization, ServiceError> {
        policy::check(actor, Action::CreateOrganization, None, None)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ServiceError::field(
                "name",
                "an organization name must be 1 to 100 characters",
            ));
        }
        let mut invalid = FieldErrors::default();
        refuse_control_characters(&mut invalid, "name", name);
        invalid.finish()?;
        if name.starts_with("org_") {
            return Err(ServiceError::field(
                "name",
                "an organization name must not start with org_ (reserved for ids)",
            ));
        }
        let org = Organization {
            id: secret::new_id("org_")?,
            name: name.into(),
            created_at: self.clock.now(),
        };
        let audit = self.audit(
            actor,
            "organization.create",
            &org.id,
            Some(&org.id),
            json!({"name": org.name}),
        )?;
        self.store.create_organization(&org, &audit).await?;
        Ok(org)
    }

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
            "user.create",
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
            "user.disable"
        } else {
            "user.enable"
        };
        let audit = self.audit(actor, action, &user.id, None, json!({"email": user.email}))?;
        self.store
            .set_user_disabled(&user.id, user.disabled_at, &audit)
            .await?;
        Ok(user)
    }

    /// Makes the user with `email` a member of `org` with `role` (its name, as the caller
    /// sent it), or gives a member that role.
    pub async fn add_member(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        role: &str,
    ) -> Result<Membership, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let (email, role) = member_fields("user", email, role)?;
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
            "member.put",
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

    /// The rules a resource server meets, at creation and after every change. Scope names
    /// are unique within it only: another organization's `orders:read` is not this one's.
    fn check_resource_server(&self, rs: &ResourceServer) -> Result<(), ServiceError> {
        resource_server_fields(rs, &self.issuer).finish()
    }

    pub async fn create_resource_server(
        &self,
        actor: &Caller,
        org: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ScopeDefinition>,
    ) -> Result<ResourceServer, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ManageResourceServers)
            .await?;
        let rs = ResourceServer {
            id: secret::new_id("rs_")?,
            org_id: org.id.clone(),
            identifier: identifier.into(),
            name: name.trim().into(),
            scopes,
            created_at: self.clock.now(),
        };
        self.check_resource_server(&rs)?;
        let audit = self.audit(
            actor,
            "resource_server.create",
            &rs.id,
            Some(&org.id),
            describe_resource_server(&rs),
        )?;
        self.store.create_resource_server(&rs, &audit).await?;
        Ok(rs)
    }

    /// A resource server of organization `org`, by id.
    pub async fn resource_server(
        &self,
        actor: &Caller,
        org: &str,
        id: &str,
    ) -> Result<ResourceServer, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        self.store
            .resource_servers(&org.id)
            .await?
            .into_iter()
            .find(|rs| rs.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("resource server {id:?}")))
    }

    /// Renames a resource server or replaces its scopes (its identifier never changes:
    /// tokens name it). Apps keep listing a scope that went away; no token carries it again.
    pub async fn update_resource_server(
        &self,
        actor: &Caller,
        org: &str,
        id: &str,
        changes: ResourceServerChanges,
    ) -> Result<ResourceServer, ServiceError> {
        let mut rs = self.resource_server(actor, org, id).await?;
        self.authorize(actor, Action::ManageResourceServers, &rs.org_id)
            .await?;
        if let Some(name) = changes.name {
            rs.name = name.trim().into();
        }
        if let Some(scopes) = changes.scopes {
            rs.scopes = scopes;
        }
        self.check_resource_server(&rs)?;
        let audit = self.audit(
            actor,
            "resource_server.update",
            &rs.id,
            Some(&rs.org_id),
            describe_resource_server(&rs),
        )?;
        self.store.update_resource_server(&rs, &audit).await?;
        Ok(rs)
    }

    pub async fn delete_resource_server(
        &self,
        actor: &Caller,
        org: &str,
        id: &str,
    ) -> Result<(), ServiceError> {
        let rs = self.resource_server(actor, org, id).await?;
        self.authorize(actor, Action::ManageResourceServers, &rs.org_id)
            .await?;
        let audit = self.audit(
            actor,
            "resource_server.delete",
            &rs.id,
            Some(&rs.org_id),
            describe_resource_server(&rs),
        )?;
        Ok(self.store.delete_resource_server(&rs.id, &audit).await?)
    }

    /// The rules every app meets, at creation and after every change; every broken rule is
    /// reported, by field.
    async fn check_app(&self, app: &App) -> Result<(), ServiceError> {
        let mut errors = Vec::new();
        let name = app.name.as_str();
        if name.trim().is_empty() || name.len() > 100 {
            errors.push(FieldError::new(
                "name",
                "an app name must be 1 to 100 characters",
            ));
        }
        if name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "name must not contain control characters (newlines, tabs, NUL)",
            ));
        }
        match app.app_type {
            AppType::Server => {
                if !app.redirect_uris.is_empty() {
                    errors.push(FieldError::new(
                        "redirect_uris",
                        "server apps have no redirect URIs",
                    ));
                }
                if app.allow_password || app.allow_implicit {
                    errors.push(FieldError::new(
                        "legacy_grants",
                        "server apps use client credentials only; legacy grants are for web and native apps",
                    ));
                }
            }
            AppType::Web | AppType::Native => {
                if app.redirect_uris.is_empty() && !app.allow_password {
                    errors.push(FieldError::new(
                        "redirect_uris",
                        format!(
                            "a {} app needs at least one redirect URI",
                            app.app_type.as_str()
                        ),
                    ));
                }
                if app.scopes.has_management() {
                    errors.push(FieldError::new(
                        "scopes",
                        "only server apps may hold Grantor's management scopes (grantor:...); users' apps never get them",
                    ));
                }
            }
        }
        for (field, uris) in [
            ("redirect_uris", &app.redirect_uris),
            ("post_logout_redirect_uris", &app.post_logout_redirect_uris),
        ] {
            if let Some(Err(e)) = uris
                .iter()
                .map(|uri| validate_redirect_uri(app.app_type, uri))
                .find(Result::is_err)
            {
                errors.push(FieldError::new(field, e.to_string()));
            }
        }
        for s in app.scopes.iter().filter(|s| !scope::is_builtin(s)) {
            if !self.store.scope_declared(s).await? {
                errors.push(FieldError::new(
                    "scopes",
                    format!("scope {s:?} is not defined by any resource server"),
                ));
                break;
            }
        }
        // Zero means the server's default.
        if app.access_token_ttl != 0 && !(60..=86_400).contains(&app.access_token_ttl) {
            errors.push(FieldError::new(
                "access_token_ttl",
                "an access token lifetime must be between 60 and 86400 seconds",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidFields(errors))
        }
    }

    pub async fn create_app(
        &self,
        actor: &Caller,
        org: &str,
        new: NewApp,
    ) -> Result<AppWithSecret, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageApps).await?;
        let client_secret = match new.app_type {
            AppType::Native => None,
            _ => Some(secret::generate(secret::Kind::AppSecret)?),
        };
        let app = App {
            client_id: secret::new_id("app_")?,
            org_id: org.id.clone(),
            name: new.name.trim().into(),
            app_type: new.app_type,
            secret_hash: client_secret.as_deref().map(secret::hash),
            previous_secret_hash: None,
            previous_secret_expires_at: 0,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            scopes: new.scopes.into_iter().collect(),
            allow_password: new.legacy_grants.contains(&LegacyGrant::Password),
            allow_implicit: new.legacy_grants.contains(&LegacyGrant::Implicit),
            // Zero, or none, is the installation's default.
            access_token_ttl: new.access_token_ttl.unwrap_or(0),
            created_at: self.clock.now(),
        };
        self.check_app(&app).await?;
        let audit = self.audit(
            actor,
            "app.create",
            &app.client_id,
            Some(&org.id),
            json!({"type": app.app_type.as_str(), "name": app.name}),
        )?;
        self.store.create_app(&app, &audit).await?;
        Ok(AppWithSecret {
            app,
            client_secret,
            previous_secret_valid_until: None,
        })
    }

    /// Changes an app's settings (never its type or secret). Narrowed scopes take effect at
    /// once for new tokens and at the next refresh for existing authorizations.
    pub async fn update_app(
        &self,
        actor: &Caller,
        client_id: &str,
        changes: AppChanges,
    ) -> Result<App, ServiceError> {
        let mut app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        self.authorize(actor, Action::ManageApps, &app.org_id)
            .await?;
        if let Some(name) = changes.name {
            app.name = name.trim().into();
        }
        if let Some(uris) = changes.redirect_uris {
            app.redirect_uris = uris;
        }
        if let Some(uris) = changes.post_logout_redirect_uris {
            app.post_logout_redirect_uris = uris;
        }
        if let Some(scopes) = changes.scopes {
            app.scopes = scopes.into_iter().collect();
        }
        if let Some(ttl) = changes.access_token_ttl {
            // Zero restores the installation's default.
            app.access_token_ttl = ttl;
        }
        self.check_app(&app).await?;
        let audit = self.audit(
            actor,
            "app.update",
            &app.client_id,
            Some(&app.org_id),
            json!({"name": app.name, "scopes": app.scopes}),
        )?;
        self.store.update_app(&app, &audit).await?;
        Ok(app)
    }

    pub async fn app(
        &self,
        actor: &Caller,
        client_id: &str,
    ) -> Result<(App, Vec<OrgAccessGrant>), ServiceError> {
        let app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        self.authorize(actor, Action::ViewOrganization, &app.org_id)
            .await?;
        let grants = self.store.org_grants(client_id).await?;
        Ok((app, grants))
    }

    pub async fn apps(
        &self,
        actor: &Caller,
        org: &str,
        window: Window,
    ) -> Result<Vec<App>, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        Ok(self.store.apps(&org.id, window).await?)
    }

    /// A window of an organization's apps, each with the organizations that added it: two
    /// reads, however many apps.
    pub async fn apps_with_grants(
        &self,
        actor: &Caller,
        org: &str,
        window: Window,
    ) -> Result<Vec<(App, Vec<OrgAccessGrant>)>, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        let apps = self.store.apps(&org.id, window).await?;
        let mut by_app: HashMap<String, Vec<OrgAccessGrant>> = HashMap::new();
        for grant in self.store.org_grants_of_apps(&org.id, window).await? {
            by_app
                .entry(grant.client_id.clone())
                .or_default()
                .push(grant);
        }
        Ok(apps
            .into_iter()
            .map(|app| {
                let grants = by_app.remove(&app.client_id).unwrap_or_default();
                (app, grants)
            })
            .collect())
    }

    /// An owner of `org` lets an app (of any org) act there with `scopes`: a server app gets
    /// tokens for the organization; members of the organization may sign in to a web or
    /// native app.
    pub async fn add_app_to_organization(
        &self,
        actor: &Caller,
        client_id: &str,
        org: &str,
        scopes: Vec<String>,
    ) -> Result<OrgAccessGrant, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::AddAppToOrganization)
            .await?;
        let client_id = client_id.trim();
        let scopes: ScopeSet = scopes.into_iter().collect();
        let mut invalid = FieldErrors::default();
        if !crate::model::is_app_id(client_id) {
            invalid.add(
                "client_id",
                format!("{client_id:?} is not an app ID: app IDs look like app_ and 32 hexadecimal digits"),
            );
        }
        if scopes.is_empty() {
            invalid.add("scopes", "choose at least one of the app's scopes");
        }
        invalid.finish()?;
        let app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        if scopes.has_management() {
            // Management scopes make the app an admin client of the organization.
            self.authorize(actor, Action::GrantManagementScopes, &org.id)
                .await?;
        }
        let held = self.store.org_grants(&app.client_id).await?;
        policy::may_take_hold_of(actor, &held, Some((&org.id, &scopes)))?;
        let missing = scopes.missing_from(&app.scopes);
        if !missing.is_empty() {
            return Err(ServiceError::field(
                "scopes",
                format!("the app does not ask for: {}", missing.join(" ")),
            ));
        }
        let grant = OrgAccessGrant {
            org_id: org.id.clone(),
            org_name: org.name.clone(),
            client_id: app.client_id.clone(),
            scopes,
            created_at: self.clock.now(),
        };
        let audit = self.audit(
            actor,
            "app.add_to_organization",
            &app.client_id,
            Some(&org.id),
            json!({"scopes": grant.scopes}),
        )?;
        self.store.put_org_grant(&grant, &audit).await?;
        Ok(grant)
    }

    /// An owner of `org` takes back what adding the app gave: its tokens there stop at the
    /// next refresh, and new ones are refused on every node within a second.
    pub async fn remove_app_from_organization(
        &self,
        actor: &Caller,
        client_id: &str,
        org: &str,
    ) -> Result<(), ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::AddAppToOrganization)
            .await?;
        let audit = self.audit(
            actor,
            "app.remove_from_organization",
            client_id,
            Some(&org.id),
            json!({}),
        )?;
        if self
            .store
            .delete_org_grant(&org.id, client_id, &audit)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "app {client_id:?} in organization {:?}",
                org.name
            )))
        }
    }

    /// The organizations `actor` can see, by name, a window at a time: all for the operator
    /// and platform admins, the user's own (only the token's, through a token), or an admin
    /// client's one.
    pub async fn organizations(
        &self,
        actor: &Caller,
        window: Window,
    ) -> Result<Vec<Organization>, ServiceError> {
        let one = |org: Option<Organization>| {
            org.into_iter()
                .skip(window.offset)
                .take(window.limit)
                .collect()
        };
        match &actor.actor {
            Actor::Operator
            | Actor::User {
                platform_admin: true,
                ..
            } => Ok(self.store.organizations(window).await?),
            Actor::User {
                user_id,
                token: Some(limits),
                ..
            } => {
                let member = self.store.membership(&limits.org_id, user_id).await?;
                let org = match member {
                    Some(_) => self.store.organization(&limits.org_id).await?,
                    None => None,
                };
                Ok(one(org))
            }
            Actor::User { user_id, .. } => {
                Ok(self.store.organizations_of_user(user_id, window).await?)
            }
            Actor::AdminClient { org_id, .. } => Ok(one(self.store.organization(org_id).await?)),
        }
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

    pub async fn resource_servers(
        &self,
        actor: &Caller,
        org: &str,
    ) -> Result<Vec<ResourceServer>, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        Ok(self.store.resource_servers(&org.id).await?)
    }

    /// The apps an organization added, with the scopes it chose for each.
    pub async fn added_apps(
        &self,
        actor: &Caller,
        org: &str,
        window: Window,
    ) -> Result<Vec<OrgAccessGrant>, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        Ok(self.store.org_grants_of_org(&org.id, window).await?)
    }

    /// One app that organization `org` added, with the scopes it chose.
    pub async fn added_app(
        &self,
        actor: &Caller,
        org: &str,
        client_id: &str,
    ) -> Result<OrgAccessGrant, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        self.store
            .org_grants(client_id)
            .await?
            .into_iter()
            .find(|g| g.org_id == org.id)
            .ok_or_else(|| ServiceError::NotFound(format!("added app {client_id:?}")))
    }

    /// The apps an organization added, each with the app's name: the app may belong to
    /// another organization, which the members here cannot otherwise see into.
    pub async fn added_apps_named(
        &self,
        actor: &Caller,
        org: &str,
        window: Window,
    ) -> Result<Vec<(OrgAccessGrant, String)>, ServiceError> {
        let grants = self.added_apps(actor, org, window).await?;
        let mut named = Vec::with_capacity(grants.len());
        for grant in grants {
            let name = self
                .store
                .app(&grant.client_id)
                .await?
                .map_or_else(|| grant.client_id.clone(), |app| app.name);
            named.push((grant, name));
        }
        Ok(named)
    }

    /// An app of organization `org`, with the organizations that added it; an app of
    /// another organization is "not found" here.
    pub async fn app_of(
        &self,
        actor: &Caller,
        org: &str,
        client_id: &str,
    ) -> Result<(App, Vec<OrgAccessGrant>), ServiceError> {
        let org = self.organization(org).await?;
        let (app, grants) = self.app(actor, client_id).await?;
        if app.org_id != org.id {
            return Err(ServiceError::NotFound(format!("app {client_id:?}")));
        }
        Ok((app, grants))
    }

    /// The organization's audit log, newest first (owners).
    pub async fn audit_events(
        &self,
        actor: &Caller,
        org: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ViewAudit).await?;
        Ok(self.store.audit_events(&org.id, query).await?)
    }

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

    /// Changes a member's role (its name, as the caller sent it).
    pub async fn set_member_role(
        &self,
        actor: &Caller,
        org: &str,
        user: &str,
        role: &str,
    ) -> Result<Membership, ServiceError> {
        // Who may manage members is settled before anything about them is revealed.
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let role: Role = role.parse().map_err(|e| ServiceError::field("role", e))?;
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
            "member.remove",
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

    /// Deletes an app: its secret, tokens, approvals and organization access go with it.
    pub async fn delete_app(&self, actor: &Caller, client_id: &str) -> Result<(), ServiceError> {
        let app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        self.authorize(actor, Action::ManageApps, &app.org_id)
            .await?;
        let audit = self.audit(
            actor,
            "app.delete",
            &app.client_id,
            Some(&app.org_id),
            json!({"name": app.name}),
        )?;
        Ok(self.store.delete_app(&app.client_id, &audit).await?)
    }

    /// The user named by email or id: the actor itself, unless the operator acts for
    /// someone.
    async fn user_for(&self, actor: &Caller, user: &str) -> Result<User, ServiceError> {
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

    /// An organization the actor may see.
    pub async fn visible_organization(
        &self,
        actor: &Caller,
        org: &str,
    ) -> Result<Organization, ServiceError> {
        self.org_allowing(actor, org, Action::ViewOrganization)
            .await
    }

    /// Makes an API token for `email` in `org`; the token itself exists in clear only in the
    /// answer.
    pub async fn create_api_token(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        new: NewApiToken,
    ) -> Result<(ApiToken, String), ServiceError> {
        // An organization the user is not in is as unknown as one that does not exist.
        let not_found = || ServiceError::NotFound(format!("organization {org:?}"));
        let org = self.store.organization(org).await?.ok_or_else(not_found)?;
        let user = self.user_for(actor, email).await?;
        let role = self
            .store
            .membership(&org.id, &user.id)
            .await?
            .map(|m| m.role)
            .ok_or_else(not_found)?;
        self.authorize(actor, Action::ManageOwnApiTokens, &org.id)
            .await?;
        let allowed = policy::management_scopes_for(role, user.platform_admin);
        let index = self.store.org_resources(&org.id).await?;
        let (name, scopes, lifetime) = api_token_fields(new, role, &allowed, &index)?;
        // What a token mints is within what it holds itself.
        let beyond = policy::beyond_holding(actor, &scopes);
        if !beyond.is_empty() {
            return Err(ServiceError::Forbidden(format!(
                "an API token cannot carry scopes the calling token does not hold: {}",
                beyond.join(" ")
            )));
        }
        let secret = secret::generate(secret::Kind::ApiToken)?;
        let now = self.clock.now();
        let token = ApiToken {
            id: secret::new_id("tok_")?,
            user_id: user.id.clone(),
            org_id: org.id.clone(),
            name,
            scopes,
            token_hash: secret::hash(&secret),
            created_at: now,
            expires_at: now + lifetime,
            last_used_at: None,
            revoked_at: None,
        };
        let audit = self.audit(
            actor,
            "api_token.create",
            &token.id,
            Some(&org.id),
            json!({"user": user.id, "name": token.name, "scopes": token.scopes}),
        )?;
        self.store.create_api_token(&token, &audit).await?;
        Ok((token, secret))
    }

    pub async fn api_tokens(
        &self,
        actor: &Caller,
        email: &str,
    ) -> Result<Vec<ApiToken>, ServiceError> {
        let user = self.user_for(actor, email).await?;
        policy::may_manage_api_tokens(actor)?;
        let mut tokens = self.store.api_tokens_of_user(&user.id).await?;
        tokens.retain(|t| policy::reaches_api_token(actor, &t.org_id));
        Ok(tokens)
    }

    /// Revokes an API token: it can no longer be exchanged, and access tokens already
    /// exchanged for it stop passing introspection.
    pub async fn revoke_api_token(&self, actor: &Caller, id: &str) -> Result<(), ServiceError> {
        let not_found = || ServiceError::NotFound(format!("API token {id:?}"));
        let token = self
            .store
            .api_token(id)
            .await?
            .filter(|t| policy::owns(actor, &t.user_id))
            .ok_or_else(not_found)?;
        policy::may_manage_api_tokens(actor)?;
        if !policy::reaches_api_token(actor, &token.org_id) {
            return Err(not_found());
        }
        let audit = self.audit(
            actor,
            "api_token.revoke",
            &token.id,
            Some(&token.org_id),
            json!({}),
        )?;
        if self
            .store
            .revoke_api_token(&token.id, self.clock.now(), &audit)
            .await?
        {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// The signed-in user's account: who they are, their organizations and the approvals
    /// they gave.
    pub async fn account(
        &self,
        actor: &Caller,
    ) -> Result<(User, Vec<Membership>, Vec<ConsentView>), ServiceError> {
        let Actor::User { user_id, .. } = &actor.actor else {
            return Err(ServiceError::NotFound("account".into()));
        };
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("account".into()))?;
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
        let Actor::User { user_id, .. } = &actor.actor else {
            return Err(ServiceError::NotFound("account".into()));
        };
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("account".into()))?;
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

    /// An owner invites `email` to join `org` with `role`: a single-use link that expires;
    /// its token exists in clear only in the answer.
    pub async fn invite_member(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        role: &str,
    ) -> Result<(Invitation, String), ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageMembers).await?;
        let (email, role) = member_fields("email", email, role)?;
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
        };
        let audit = self.audit(
            actor,
            "member.invite",
            &invitation.id,
            Some(&org.id),
            json!({"email": invitation.email, "role": role.as_str()}),
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
            "member.withdraw_invitation",
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
                let user = self.new_user(&invitation.email, Some(password), Some(name), false)?;
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
            "member.accept_invitation",
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

    /// An app an owner of `org` is about to add to it, by app ID: its name, type and scopes,
    /// so the owner can choose what to grant. Knowing the ID is what lets an owner of another
    /// organization see this much.
    pub async fn app_to_add(
        &self,
        actor: &Caller,
        org: &str,
        client_id: &str,
    ) -> Result<App, ServiceError> {
        self.org_allowing(actor, org, Action::AddAppToOrganization)
            .await?;
        let client_id = client_id.trim();
        let not_found = || {
            ServiceError::NotFound(format!(
                "no app has the ID {client_id:?}; app IDs look like app_ and 32 hexadecimal digits"
            ))
        };
        if !crate::model::is_app_id(client_id) {
            return Err(not_found());
        }
        self.store.app(client_id).await?.ok_or_else(not_found)
    }

    /// Issues a new app secret; the old one stops working at once, or after `grace_seconds`.
    pub async fn regenerate_secret(
        &self,
        actor: &Caller,
        client_id: &str,
        grace_seconds: i64,
    ) -> Result<AppWithSecret, ServiceError> {
        let app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        self.authorize(actor, Action::RegenerateAppSecret, &app.org_id)
            .await?;
        let held = self.store.org_grants(&app.client_id).await?;
        policy::may_take_hold_of(actor, &held, None)?;
        let Some(old_hash) = app.secret_hash.as_deref() else {
            return Err(invalid("native apps have no secret to regenerate"));
        };
        if !(0..=86_400).contains(&grace_seconds) {
            return Err(ServiceError::field(
                "grace_seconds",
                "the grace period must be between 0 and 86400 seconds",
            ));
        }
        let new_secret = secret::generate(secret::Kind::AppSecret)?;
        let new_hash = secret::hash(&new_secret);
        let until = self.clock.now() + grace_seconds;
        let previous = (grace_seconds > 0).then_some(old_hash);
        let audit = self.audit(
            actor,
            "app.regenerate_secret",
            &app.client_id,
            Some(&app.org_id),
            json!({"grace_seconds": grace_seconds}),
        )?;
        self.store
            .set_app_secret(&app.client_id, &new_hash, previous, until, &audit)
            .await?;
        let mut updated = app.clone();
        updated.secret_hash = Some(new_hash);
        Ok(AppWithSecret {
            app: updated,
            client_secret: Some(new_secret),
            previous_secret_valid_until: (grace_seconds > 0).then_some(until),
        })
    }
}

/// How an app is shown by the CLI and the management API. Legacy grants are listed apart so
/// nobody mistakes them for recommended ones.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AppView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(rename = "type")]
    pub app_type: AppType,
    pub name: String,
    pub org_id: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub scopes: ScopeSet,
    pub grant_types: Vec<&'static str>,
    pub legacy_grant_types: Vec<&'static str>,
    pub token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<OrgAccessGrant>>,
    pub created_at: i64,
}

impl AppView {
    pub fn new(app: &App) -> Self {
        let grants = app.grant_types();
        Self {
            client_id: app.client_id.clone(),
            client_secret: None,
            app_type: app.app_type,
            name: app.name.clone(),
            org_id: app.org_id.clone(),
            redirect_uris: app.redirect_uris.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
            scopes: app.scopes.clone(),
            grant_types: grants
                .iter()
                .filter(|g| !g.is_legacy())
                .map(|g| g.as_str())
                .collect(),
            legacy_grant_types: grants
                .iter()
                .filter(|g| g.is_legacy())
                .map(|g| g.as_str())
                .collect(),
            token_endpoint_auth_method: if app.app_type.is_confidential() {
                "client_secret_basic"
            } else {
                "none"
            },
            access_token_ttl: (app.access_token_ttl > 0).then_some(app.access_token_ttl),
            previous_secret_valid_until: None,
            organizations: None,
            created_at: app.created_at,
        }
    }

    pub fn with_secret(created: &AppWithSecret) -> Self {
        Self {
            client_secret: created.client_secret.clone(),
            previous_secret_valid_until: created.previous_secret_valid_until,
            ..Self::new(&created.app)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields an `InvalidFields` refusal names, in order.
    fn fields<T: std::fmt::Debug>(checked: Result<T, ServiceError>) -> Vec<String> {
        match checked {
            Err(ServiceError::InvalidFields(errors)) => {
                assert!(errors.iter().all(|e| !e.message.is_empty()), "{errors:?}");
                errors.into_iter().map(|e| e.field).collect()
            }
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    fn scope(name: &str, description: &str) -> ScopeDefinition {
        ScopeDefinition {
            name: name.into(),
            description: description.into(),
        }
    }

    fn resource_server(
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

    #[test]
    fn a_resource_server_is_refused_with_every_invalid_field() {
        let long = "x".repeat(SCOPE_DESCRIPTION_MAX + 1);
        let rs = resource_server(
            "not a uri",
            "",
            vec![
                scope("ledger:read", "Read the ledger"),
                scope("bad name", "Spaces are not allowed"),
                scope("grantor:apps", "Reserved"),
                scope("ledger:read", &long),
            ],
        );
        assert_eq!(
            fields(resource_server_fields(&rs, ISSUER).finish()),
            [
                "identifier",
                "name",
                "scopes[1].name",
                "scopes[2].name",
                "scopes[3].name",
                "scopes[3].description"
            ]
        );
        let rs = resource_server("https://api.example.com#part", "Ledger", Vec::new());
        assert_eq!(
            fields(resource_server_fields(&rs, ISSUER).finish()),
            ["identifier", "scopes"]
        );
    }

    const ISSUER: &str = "https://id.example.com";

    #[test]
    fn the_issuers_own_urls_and_control_characters_are_refused() {
        for identifier in [
            "https://id.example.com",
            "https://id.example.com/",
            "https://id.example.com/api/v1",
            "HTTPS://ID.EXAMPLE.COM:443/oauth2/token",
        ] {
            let rs = resource_server(identifier, "Mine", vec![scope("a:b", "")]);
            assert_eq!(
                fields(resource_server_fields(&rs, ISSUER).finish()),
                ["identifier"],
                "{identifier}"
            );
        }
        let rs = resource_server(
            "https://id.example.com.evil/api/v1",
            "Forged\nline",
            vec![scope("a:b", "two\u{0}parts")],
        );
        assert_eq!(
            fields(resource_server_fields(&rs, ISSUER).finish()),
            ["name", "scopes[0].description"]
        );
        let rs = resource_server("https://api.example.com/with space", "A", Vec::new());
        assert_eq!(
            fields(resource_server_fields(&rs, ISSUER).finish()),
            ["identifier", "scopes"]
        );
    }

    #[test]
    fn a_valid_resource_server_passes() {
        let rs = resource_server(
            "https://ledger.example.com",
            "Ledger",
            vec![
                scope("ledger:read", ""),
                scope("ledger:write", "Post entries"),
            ],
        );
        assert!(resource_server_fields(&rs, ISSUER).is_empty());
    }

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

    #[test]
    fn an_api_token_is_refused_with_every_invalid_field() {
        let index = OrgResources::new(vec![resource_server(
            "https://ledger.example.com",
            "Ledger",
            vec![scope("ledger:read", "Read")],
        )]);
        let allowed = policy::management_scopes_for(Role::Member, false);
        let new = |name: &str, scopes: &[&str], expires_in| NewApiToken {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_in,
        };
        let refused = api_token_fields(
            new(" ", &["ledger:read", "grantor:members", "no:such"], Some(5)),
            Role::Member,
            &allowed,
            &index,
        );
        let Err(ServiceError::InvalidFields(errors)) = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            errors[1].message.ends_with("grantor:members no:such"),
            "each refused scope is named: {errors:?}"
        );
        assert_eq!(fields(refused), ["name", "scopes", "expires_in"]);
        assert_eq!(
            fields(api_token_fields(
                new("script", &[], Some(API_TOKEN_MAX_TTL + 1)),
                Role::Member,
                &allowed,
                &index,
            )),
            ["scopes", "expires_in"]
        );
        let (name, scopes, lifetime) = api_token_fields(
            new(
                " nightly ",
                &["ledger:read", "openid", "grantor:apps"],
                None,
            ),
            Role::Member,
            &allowed,
            &index,
        )
        .unwrap();
        assert_eq!(
            (name.as_str(), lifetime),
            ("nightly", API_TOKEN_DEFAULT_TTL)
        );
        assert_eq!(scopes.to_string(), "grantor:apps ledger:read openid");
    }

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
