//! The management service: every change to configuration data, with its validation, its
//! policy check and its audit event. The CLI, the console and the management API all call
//! this, so they cannot disagree about the rules.

use crate::model::{
    Actor, App, AppType, AuditEvent, LegacyGrant, Membership, OrgAccessGrant, Organization,
    ResourceServer, Role, ScopeDefinition, User,
};
use crate::policy::{self, Action};
use crate::scope::{self, ScopeSet};
use crate::store::{Directory, Registry};
use crate::{Clock, ServiceError, password, secret};
use std::sync::Arc;

pub struct Manager<S> {
    pub store: S,
    pub clock: Arc<dyn Clock>,
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

impl<S: Directory + Registry> Manager<S> {
    fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        org_id: Option<&str>,
        details: String,
    ) -> Result<AuditEvent, ServiceError> {
        Ok(AuditEvent {
            id: secret::new_id("aud_")?,
            at: self.clock.now(),
            actor: actor.audit_name(),
            action: action.into(),
            target: target.into(),
            org_id: org_id.map(str::to_string),
            source: None,
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

    /// The actor's role in `org_id`, for policy checks.
    async fn role_of(&self, actor: &Actor, org_id: &str) -> Result<Option<Role>, ServiceError> {
        let Actor::User { user_id, .. } = actor else {
            return Ok(None);
        };
        Ok(self
            .store
            .memberships_of_user(user_id)
            .await?
            .into_iter()
            .find(|m| m.org_id == org_id)
            .map(|m| m.role))
    }

    async fn authorize(
        &self,
        actor: &Actor,
        action: Action,
        org_id: &str,
    ) -> Result<(), ServiceError> {
        let role = self.role_of(actor, org_id).await?;
        policy::check(actor, action, Some(org_id), role)
    }

    pub async fn create_organization(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<Organization, ServiceError> {
        policy::check(actor, Action::CreateOrganization, None, None)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(invalid("an organization name must be 1 to 100 characters"));
        }
        if name.starts_with("org_") {
            return Err(invalid(
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
            format!("name={}", org.name),
        )?;
        self.store.create_organization(&org, &audit).await?;
        Ok(org)
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        email: &str,
        password: &str,
        name: Option<&str>,
        platform_admin: bool,
    ) -> Result<User, ServiceError> {
        policy::check(actor, Action::ManageUsers, None, None)?;
        let email = email.trim().to_lowercase();
        if !email.contains('@') || email.len() > 254 || email.contains(char::is_whitespace) {
            return Err(invalid(format!("{email:?} is not an email address")));
        }
        if password.chars().count() < 8 {
            return Err(invalid("a password must have at least 8 characters"));
        }
        let user = User {
            id: secret::new_id("usr_")?,
            name: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(&email)
                .to_string(),
            email,
            password_hash: password::hash(password)?,
            platform_admin,
            created_at: self.clock.now(),
        };
        let audit = self.audit(
            actor,
            "user.create",
            &user.id,
            None,
            format!("email={} platform_admin={platform_admin}", user.email),
        )?;
        self.store.create_user(&user, &audit).await?;
        Ok(user)
    }

    pub async fn add_member(
        &self,
        actor: &Actor,
        org: &str,
        email: &str,
        role: Role,
    ) -> Result<Membership, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, Action::ManageMembers, &org.id)
            .await?;
        let user = self
            .store
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user {email:?}")))?;
        let audit = self.audit(
            actor,
            "member.put",
            &user.id,
            Some(&org.id),
            format!("role={role}"),
        )?;
        self.store
            .put_membership(&org.id, &user.id, role, &audit)
            .await?;
        Ok(Membership {
            org_id: org.id,
            org_name: org.name,
            user_id: user.id,
            email: user.email,
            role,
        })
    }

    pub async fn create_resource_server(
        &self,
        actor: &Actor,
        org: &str,
        identifier: &str,
        name: &str,
        scopes: Vec<ScopeDefinition>,
    ) -> Result<ResourceServer, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, Action::ManageResourceServers, &org.id)
            .await?;
        let parsed = url::Url::parse(identifier).map_err(|_| {
            invalid(format!(
                "resource identifier {identifier:?} is not an absolute URI"
            ))
        })?;
        if parsed.fragment().is_some() {
            return Err(invalid("a resource identifier must not contain a fragment"));
        }
        if scopes.is_empty() {
            return Err(invalid("a resource server declares at least one scope"));
        }
        for s in &scopes {
            if !scope::is_valid_token(&s.name) {
                return Err(invalid(format!("{:?} is not a valid scope name", s.name)));
            }
            if scope::is_builtin(&s.name) {
                return Err(invalid(format!("{:?} is a built-in scope", s.name)));
            }
        }
        let index = self.store.resource_index().await?;
        if let Some(taken) = scopes
            .iter()
            .find_map(|s| index.owner_of(&s.name).map(|rs| (s, rs)))
        {
            return Err(ServiceError::Conflict(format!(
                "scope {:?} already belongs to resource server {}; scope names are unique, so prefix them (e.g. trades:read)",
                taken.0.name, taken.1.identifier
            )));
        }
        let rs = ResourceServer {
            id: secret::new_id("rs_")?,
            org_id: org.id.clone(),
            identifier: identifier.into(),
            name: name.trim().into(),
            scopes,
            created_at: self.clock.now(),
        };
        let scope_list: Vec<&str> = rs.scopes.iter().map(|s| s.name.as_str()).collect();
        let audit = self.audit(
            actor,
            "resource_server.create",
            &rs.id,
            Some(&org.id),
            format!(
                "identifier={} scopes={}",
                rs.identifier,
                scope_list.join(" ")
            ),
        )?;
        self.store.create_resource_server(&rs, &audit).await?;
        Ok(rs)
    }

    pub async fn create_app(
        &self,
        actor: &Actor,
        org: &str,
        new: NewApp,
    ) -> Result<AppWithSecret, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, Action::ManageApps, &org.id).await?;
        let name = new.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(invalid("an app name must be 1 to 100 characters"));
        }
        match new.app_type {
            AppType::Server => {
                if !new.redirect_uris.is_empty() {
                    return Err(invalid("server apps have no redirect URIs"));
                }
                if !new.legacy_grants.is_empty() {
                    return Err(invalid(
                        "server apps use client credentials only; legacy grants are for web and native apps",
                    ));
                }
            }
            AppType::Web | AppType::Native => {
                if new.redirect_uris.is_empty()
                    && !new.legacy_grants.contains(&LegacyGrant::Password)
                {
                    return Err(invalid(format!(
                        "a {} app needs at least one redirect URI",
                        new.app_type.as_str()
                    )));
                }
            }
        }
        for uri in new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
        {
            validate_redirect_uri(new.app_type, uri)?;
        }
        let index = self.store.resource_index().await?;
        for s in &new.scopes {
            if !scope::is_builtin(s) && index.owner_of(s).is_none() {
                return Err(invalid(format!(
                    "scope {s:?} is not defined by any resource server"
                )));
            }
        }
        if let Some(ttl) = new.access_token_ttl
            && !(60..=86_400).contains(&ttl)
        {
            return Err(invalid(
                "an access token lifetime must be between 60 and 86400 seconds",
            ));
        }
        let client_secret = match new.app_type {
            AppType::Native => None,
            _ => Some(secret::generate(secret::Kind::AppSecret)?),
        };
        let app = App {
            client_id: secret::new_id("app_")?,
            org_id: org.id.clone(),
            name: name.into(),
            app_type: new.app_type,
            secret_hash: client_secret.as_deref().map(secret::hash),
            previous_secret_hash: None,
            previous_secret_expires_at: 0,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            scopes: new.scopes.into_iter().collect(),
            allow_password: new.legacy_grants.contains(&LegacyGrant::Password),
            allow_implicit: new.legacy_grants.contains(&LegacyGrant::Implicit),
            access_token_ttl: new.access_token_ttl.unwrap_or(0),
            created_at: self.clock.now(),
        };
        let audit = self.audit(
            actor,
            "app.create",
            &app.client_id,
            Some(&org.id),
            format!("type={} name={}", app.app_type.as_str(), app.name),
        )?;
        self.store.create_app(&app, &audit).await?;
        Ok(AppWithSecret {
            app,
            client_secret,
            previous_secret_valid_until: None,
        })
    }

    pub async fn app(
        &self,
        actor: &Actor,
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

    pub async fn apps(&self, actor: &Actor, org: &str) -> Result<Vec<App>, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, Action::ViewOrganization, &org.id)
            .await?;
        Ok(self.store.apps(&org.id).await?)
    }

    /// An owner of `org` lets an app (of any org) act there with `scopes`: a server app gets
    /// tokens for the organization; members of the organization may sign in to a web or
    /// native app.
    pub async fn add_app_to_organization(
        &self,
        actor: &Actor,
        client_id: &str,
        org: &str,
        scopes: Vec<String>,
    ) -> Result<OrgAccessGrant, ServiceError> {
        let org = self.organization(org).await?;
        self.authorize(actor, Action::AddAppToOrganization, &org.id)
            .await?;
        let app = self
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("app {client_id:?}")))?;
        let scopes: ScopeSet = scopes.into_iter().collect();
        if scopes.is_empty() {
            return Err(invalid("choose at least one of the app's scopes"));
        }
        let missing = scopes.missing_from(&app.scopes);
        if !missing.is_empty() {
            return Err(invalid(format!(
                "the app does not ask for: {}",
                missing.join(" ")
            )));
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
            format!("scopes={}", grant.scopes),
        )?;
        self.store.put_org_grant(&grant, &audit).await?;
        Ok(grant)
    }

    /// Issues a new app secret; the old one stops working at once, or after `grace_seconds`.
    pub async fn regenerate_secret(
        &self,
        actor: &Actor,
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
        let Some(old_hash) = app.secret_hash.as_deref() else {
            return Err(invalid("native apps have no secret to regenerate"));
        };
        if !(0..=86_400).contains(&grace_seconds) {
            return Err(invalid(
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
            format!("grace_seconds={grace_seconds}"),
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
#[derive(Debug, Clone, serde::Serialize)]
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
