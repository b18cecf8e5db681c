//! OAuth apps: registering, changing and deleting them, and their secrets.

use super::Governed;
use super::{Manager, invalid};
use crate::app_keys;
use crate::model::{App, AppKeys, AppType, AuditAction, Caller, LegacyGrant, OrgAccessGrant};
use crate::policy::{self, Action};
use crate::scope;
use crate::store::{AddedAppStore, AppStore, ResourceServerStore, Window};
use crate::{FieldError, ServiceError, secret};
use serde_json::json;
use std::collections::HashMap;

/// What it takes to register an app: built by [`NewApp::new`] and its setters, the one way
/// the API, the console and the CLI describe an app; [`Manager::create_app`] checks it.
#[derive(Debug, Clone)]
pub struct NewApp {
    app_type: AppType,
    name: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    scopes: Vec<String>,
    legacy_grants: Vec<LegacyGrant>,
    device_grant: bool,
    access_token_ttl: Option<i64>,
    keys: Option<AppKeys>,
    require_par: bool,
}

impl NewApp {
    /// An app of this type and name, with no redirect URIs, scopes or legacy grants, and the
    /// installation's access token lifetime.
    pub fn new(app_type: AppType, name: impl Into<String>) -> Self {
        Self {
            app_type,
            name: name.into(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            scopes: Vec::new(),
            legacy_grants: Vec::new(),
            device_grant: false,
            access_token_ttl: None,
            keys: None,
            require_par: false,
        }
    }

    /// Public keys instead of a secret: the app authenticates with `private_key_jwt`
    /// (RFC 7523) and never gets a secret. Server and web apps only.
    pub fn keys(mut self, keys: Option<AppKeys>) -> Self {
        self.keys = keys;
        self
    }

    /// Whether the app's authorization requests must come through PAR (RFC 9126 6).
    pub fn require_par(mut self, require: bool) -> Self {
        self.require_par = require;
        self
    }

    pub fn redirect_uris<S: Into<String>>(mut self, uris: impl IntoIterator<Item = S>) -> Self {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    pub fn post_logout_redirect_uris<S: Into<String>>(
        mut self,
        uris: impl IntoIterator<Item = S>,
    ) -> Self {
        self.post_logout_redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// The scopes the app may ask for.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The legacy grants the app opts into (none by default).
    pub fn legacy_grants(mut self, grants: impl IntoIterator<Item = LegacyGrant>) -> Self {
        self.legacy_grants = grants.into_iter().collect();
        self
    }

    /// Whether the app opts into the device grant (RFC 8628; off by default). Not legacy, but
    /// off unless wanted: it lets whoever holds a device ask people to approve it by a code.
    pub fn device_grant(mut self, allow: bool) -> Self {
        self.device_grant = allow;
        self
    }

    /// Access token lifetime in seconds; `None` (or zero) keeps the installation's default.
    pub fn access_token_ttl(mut self, seconds: Option<i64>) -> Self {
        self.access_token_ttl = seconds;
        self
    }
}

/// What may change about an app after it was registered; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AppChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub access_token_ttl: Option<i64>,
    /// RFC 9126 6: refuse authorization requests that were not pushed.
    pub require_par: Option<bool>,
}

/// An app together with its secret, which exists in clear only in this value.
#[derive(Debug, Clone)]
pub struct AppWithSecret {
    pub app: App,
    pub client_secret: Option<String>,
    /// When the previous secret stops working (regeneration with a grace period).
    pub previous_secret_valid_until: Option<i64>,
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

impl<S: Governed + AppStore + AddedAppStore + ResourceServerStore> Manager<S> {
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
                if app.allow_device_code {
                    errors.push(FieldError::new(
                        "allow_grants",
                        "server apps use client credentials only; the device grant is for web and native apps",
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
        match (&app.keys, app.app_type) {
            (Some(_), AppType::Native) => errors.push(FieldError::new(
                "jwks",
                "native apps are public: they cannot keep a private key, so they have no keys",
            )),
            (Some(AppKeys::Jwks(doc)), _) => {
                if let Err(e) = app_keys::parse_jwks(doc) {
                    errors.push(FieldError::new("jwks", e));
                }
            }
            (Some(AppKeys::Uri(uri)), _) => {
                let loopback = app_keys::loopback_allowed(&self.issuer);
                if let Err(e) = app_keys::check_jwks_uri(uri, loopback) {
                    errors.push(FieldError::new("jwks_uri", e));
                }
            }
            (None, _) => {}
        }
        if app.require_par && app.app_type == AppType::Server {
            errors.push(FieldError::new(
                "require_pushed_authorization_requests",
                "server apps do not use the authorization endpoint; PAR is for web and native apps",
            ));
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
        let (created, audit) = self.prepare_app(actor, org, new, None).await?;
        self.store.create_app(&created.app, &audit).await?;
        Ok(created)
    }

    /// The app `create_app` would register, checked and with its audit event, not yet
    /// stored: the one way an app is made, whether it is stored alone or with something else
    /// in the same transaction (a dynamic registration's record). `client_id` is a given ID
    /// (a pending registration's) or `None` for a new one.
    pub(super) async fn prepare_app(
        &self,
        actor: &Caller,
        org: &str,
        new: NewApp,
        client_id: Option<String>,
    ) -> Result<(AppWithSecret, crate::model::AuditEvent), ServiceError> {
        let org = self.org_allowing(actor, org, Action::ManageApps).await?;
        // An app with keys has no secret at all: there is nothing shared to leak or to lose
        // with the person who made it.
        let client_secret = match (new.app_type, &new.keys) {
            (AppType::Native, _) | (_, Some(_)) => None,
            _ => Some(secret::generate(secret::Kind::AppSecret)?),
        };
        let app = App {
            client_id: match client_id {
                Some(id) => id,
                None => secret::new_id("app_")?,
            },
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
            allow_device_code: new.device_grant,
            // Zero, or none, is the installation's default.
            access_token_ttl: new.access_token_ttl.unwrap_or(0),
            created_at: self.clock.now(),
            keys: new.keys,
            require_par: new.require_par,
        };
        self.check_app(&app).await?;
        let audit = self.audit(
            actor,
            AuditAction::AppCreate,
            &app.client_id,
            Some(&org.id),
            json!({
                "type": app.app_type.as_str(),
                "name": app.name,
                "token_endpoint_auth_method": app.auth_method().as_str(),
            }),
        )?;
        Ok((
            AppWithSecret {
                app,
                client_secret,
                previous_secret_valid_until: None,
            },
            audit,
        ))
    }

    /// Changes an app's settings (never its type or secret). Narrowed scopes take effect at
    /// once for new tokens and at the next refresh for existing authorizations.
    pub async fn update_app(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
        changes: AppChanges,
    ) -> Result<App, ServiceError> {
        let mut app = self
            .app_allowing(actor, org, client_id, Action::ManageApps)
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
        if let Some(require) = changes.require_par {
            app.require_par = require;
        }
        self.check_app(&app).await?;
        let audit = self.audit(
            actor,
            AuditAction::AppUpdate,
            &app.client_id,
            Some(&app.org_id),
            json!({"name": app.name, "scopes": app.scopes, "require_par": app.require_par}),
        )?;
        self.store.update_app(&app, &audit).await?;
        Ok(app)
    }

    /// An app with the organizations that added it.
    pub async fn app(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
    ) -> Result<(App, Vec<OrgAccessGrant>), ServiceError> {
        let app = self
            .app_allowing(actor, org, client_id, Action::ViewOrganization)
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

    /// Deletes an app: its secret, tokens, approvals and organization access go with it.
    pub async fn delete_app(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
    ) -> Result<(), ServiceError> {
        let app = self
            .app_allowing(actor, org, client_id, Action::ManageApps)
            .await?;
        let audit = self.audit(
            actor,
            AuditAction::AppDelete,
            &app.client_id,
            Some(&app.org_id),
            json!({"name": app.name}),
        )?;
        Ok(self.store.delete_app(&app.client_id, &audit).await?)
    }

    /// Issues a new app secret; the old one stops working at once, or after `grace_seconds`.
    pub async fn regenerate_secret(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
        grace_seconds: i64,
    ) -> Result<AppWithSecret, ServiceError> {
        let app = self
            .app_allowing(actor, org, client_id, Action::RegenerateAppSecret)
            .await?;
        let held = self.store.org_grants(&app.client_id).await?;
        policy::may_take_hold_of(actor, &held, None)?;
        if app.keys.is_some() {
            return Err(invalid(
                "this app authenticates with its keys (private_key_jwt) and has no secret; replace its keys instead",
            ));
        }
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
            AuditAction::AppRegenerateSecret,
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

    /// Replaces the public keys of an app that authenticates with `private_key_jwt`: an
    /// owner's change like regenerating a secret (the same policy rule, including an admin
    /// client's limits), audited, honoured on every node within a second. Assertions signed
    /// with a removed key fail at once.
    pub async fn replace_app_keys(
        &self,
        actor: &Caller,
        org: Option<&str>,
        client_id: &str,
        keys: AppKeys,
    ) -> Result<App, ServiceError> {
        let app = self
            .app_allowing(actor, org, client_id, Action::RegenerateAppSecret)
            .await?;
        let held = self.store.org_grants(&app.client_id).await?;
        policy::may_take_hold_of(actor, &held, None)?;
        if app.keys.is_none() {
            return Err(invalid(
                "this app authenticates with a secret; keys are given when an app is created",
            ));
        }
        let mut updated = app.clone();
        let details = match &keys {
            AppKeys::Jwks(_) => json!({"keys": "jwks"}),
            AppKeys::Uri(uri) => json!({"keys": "jwks_uri", "jwks_uri": uri}),
        };
        updated.keys = Some(keys);
        self.check_app(&updated).await?;
        let audit = self.audit(
            actor,
            AuditAction::AppReplaceKeys,
            &app.client_id,
            Some(&app.org_id),
            details,
        )?;
        self.store.update_app(&updated, &audit).await?;
        Ok(updated)
    }
}
