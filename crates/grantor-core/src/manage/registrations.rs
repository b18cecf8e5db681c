//! Dynamic client registration (RFC 7591, RFC 7592) through `Manager`: the same app rules,
//! policy and audit as the management API.
//!
//! One issuer serves every organization, so an anonymous registration cannot say which
//! organization it is for. An owner *opens registration* for their organization, naming the
//! ceiling of scopes such apps may ask for. An anonymous registration (a native app only) is
//! kept pending; the first authorization request of its client_id naming a `resource` of an
//! organization with open registration, made by a signed-in member of that organization,
//! *binds* it: an app of that organization is created with the registration as actor, its
//! scopes limited to the ceiling, and the request goes on as for any native app there. The
//! user still approves the scopes on the approval page. No app lands in an organization
//! without one of its members signing in to it.
//!
//! Bounds: anonymous registrations are throttled per client address and capped in total,
//! pending ones lapse after a day and are purged, and each organization caps its
//! dynamically registered apps.

use super::{Governed, Manager};
use crate::model::{Actor, AuditAction, Caller};
use crate::policy::{self, Action};
use crate::registration::{ClientInformation, ClientMetadata, registration_error};
use crate::scope::{self, ScopeSet};
use crate::store::{
    AddedAppStore, AppStore, Binding, RegistrationRecord, RegistrationStore, Registry,
    ResourceServerStore, ThrottleStore,
};
use crate::{ErrorCode, FieldErrors, OAuthError, ServiceError, secret};
use serde_json::{Value, json};

/// How long an anonymous registration waits for its first authorization request.
pub const PENDING_REGISTRATION_TTL: i64 = 86_400;
/// The most anonymous registrations waiting at once, installation-wide.
pub const MAX_PENDING_REGISTRATIONS: i64 = 10_000;
/// The most dynamically registered apps an organization holds.
pub const MAX_REGISTERED_APPS_PER_ORG: i64 = 1_000;
/// Anonymous registrations one client address may make per window.
pub const REGISTRATIONS_PER_ADDRESS: i64 = 10;
pub const REGISTRATION_WINDOW: i64 = 3_600;
/// The most scopes a registration ceiling lists.
pub const MAX_CEILING_SCOPES: usize = 100;

/// A registration as it was answered: the app ID, and the registration access token and (for
/// confidential apps) the secret, which exist in clear only here.
#[derive(Debug, Clone)]
pub struct Registered {
    pub information: ClientInformation,
}

fn invalid_token() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidToken,
        "the registration access token is not valid for this client",
    )
}

impl<S> Manager<S> {
    /// Where an app's registration is managed (RFC 7592).
    pub fn registration_client_uri(&self, client_id: &str) -> String {
        format!(
            "{}/oauth2/register/{client_id}",
            self.issuer.trim_end_matches('/')
        )
    }
}

impl<S> Manager<S>
where
    S: Governed
        + AppStore
        + AddedAppStore
        + ResourceServerStore
        + RegistrationStore
        + ThrottleStore
        + Registry,
{
    /// The scopes anonymously registered apps may ask for in `org`; `None` while closed.
    pub async fn registration_ceiling(
        &self,
        actor: &Caller,
        org: &str,
    ) -> Result<Option<ScopeSet>, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ViewOrganization)
            .await?;
        Ok(self
            .store
            .registration_ceiling(&org.id)
            .await?
            .map(|s| ScopeSet::parse(&s).unwrap_or_default()))
    }

    /// Opens `org` to anonymous registration of native apps that may ask for `scopes` (its
    /// resource servers' scopes, and OpenID Connect's), or changes the ceiling.
    pub async fn open_registration(
        &self,
        actor: &Caller,
        org: &str,
        scopes: Vec<String>,
    ) -> Result<ScopeSet, ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ManageRegistration)
            .await?;
        let mut invalid = FieldErrors::default();
        if scopes.len() > MAX_CEILING_SCOPES {
            invalid.add(
                "scopes",
                format!("a registration ceiling lists at most {MAX_CEILING_SCOPES} scopes"),
            );
        }
        let declared: ScopeSet = self
            .store
            .resource_servers(&org.id)
            .await?
            .iter()
            .flat_map(|rs| rs.scopes.iter().map(|s| s.name.clone()))
            .collect();
        let mut ceiling = ScopeSet::default();
        for s in &scopes {
            if !scope::is_valid_token(s) {
                invalid.add("scopes", format!("{s:?} is not a valid scope"));
            } else if scope::is_management(s) {
                invalid.add(
                    "scopes",
                    "Grantor's management scopes are never open to registration",
                );
            } else if !scope::is_oidc(s) && !declared.contains(s) {
                invalid.add(
                    "scopes",
                    format!(
                        "scope {s:?} is not declared by a resource server of this organization"
                    ),
                );
            } else {
                ceiling.insert(s.as_str());
            }
        }
        invalid.finish()?;
        let audit = self.audit(
            actor,
            AuditAction::RegistrationOpen,
            &org.id,
            Some(&org.id),
            json!({"scopes": ceiling}),
        )?;
        self.store
            .set_registration_ceiling(
                &org.id,
                Some(&ceiling.to_string()),
                self.clock.now(),
                &audit,
            )
            .await?;
        Ok(ceiling)
    }

    /// Closes `org` to anonymous registration; apps already bound keep working.
    pub async fn close_registration(&self, actor: &Caller, org: &str) -> Result<(), ServiceError> {
        let org = self
            .org_allowing(actor, org, Action::ManageRegistration)
            .await?;
        let audit = self.audit(
            actor,
            AuditAction::RegistrationClose,
            &org.id,
            Some(&org.id),
            json!({}),
        )?;
        Ok(self
            .store
            .set_registration_ceiling(&org.id, None, self.clock.now(), &audit)
            .await?)
    }

    /// Registers an app with an initial access token (RFC 7591 3): in the token's
    /// organization, through the same checks and policy as the management API, the caller
    /// being the token's user or admin client.
    pub async fn register_with_token(
        &self,
        caller: &Caller,
        body: &Value,
    ) -> Result<Registered, OAuthError> {
        let org_id = match &caller.actor {
            Actor::AdminClient { org_id, .. } => org_id.clone(),
            Actor::User {
                token: Some(limits),
                ..
            } => limits.org_id.clone(),
            _ => return Err(invalid_token()),
        };
        let metadata = ClientMetadata::parse(body, false)?;
        let client_id = secret::new_id("app_")?;
        let token = secret::generate(secret::Kind::RegistrationToken)?;
        let (created, audit) = self
            .prepare_app(
                caller,
                &org_id,
                metadata.new_app(&metadata.scopes()),
                Some(client_id.clone()),
            )
            .await
            .map_err(registration_error)?;
        let now = self.clock.now();
        let record = RegistrationRecord {
            client_id: client_id.clone(),
            token_hash: secret::hash(&token),
            metadata: json!(metadata).to_string(),
            bound: true,
            created_at: now,
            expires_at: 0,
        };
        match self
            .store
            .register_app(&created.app, &record, MAX_REGISTERED_APPS_PER_ORG, &audit)
            .await?
        {
            Binding::Bound => {}
            Binding::Full | Binding::Gone => return Err(full()),
        }
        let mut information = ClientInformation::new(
            &client_id,
            now,
            self.registration_client_uri(&client_id),
            &ClientMetadata::of_app(&created.app, Some(&metadata)),
            Some(&org_id),
        );
        information.client_secret_expires_at = created.client_secret.as_ref().map(|_| 0);
        information.client_secret = created.client_secret;
        information.registration_access_token = Some(token);
        Ok(Registered { information })
    }

    /// Registers a native app without an initial access token: kept pending until its first
    /// authorization request names a resource of an organization open to registration.
    /// Refused while no organization is open; throttled per address; capped in total.
    pub async fn register_anonymously(
        &self,
        source: Option<std::net::IpAddr>,
        body: &Value,
    ) -> Result<Registered, OAuthError> {
        if !self.store.any_registration_open().await? {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "registration needs an initial access token: no organization accepts registration without one",
            ));
        }
        let now = self.clock.now();
        let address = source.map(|ip| ip.to_string()).unwrap_or_default();
        let tries = self
            .store
            .record_failure(&format!("registration:{address}"), now, REGISTRATION_WINDOW)
            .await?;
        if tries > REGISTRATIONS_PER_ADDRESS {
            let mut e = OAuthError::new(
                ErrorCode::SlowDown,
                "too many registrations from this address; try again later",
            );
            e.retry_after = Some(REGISTRATION_WINDOW as u64);
            return Err(e);
        }
        let metadata = ClientMetadata::parse(body, true)?;
        let client_id = secret::new_id("app_")?;
        let token = secret::generate(secret::Kind::RegistrationToken)?;
        let record = RegistrationRecord {
            client_id: client_id.clone(),
            token_hash: secret::hash(&token),
            metadata: json!(metadata).to_string(),
            bound: false,
            created_at: now,
            expires_at: now + PENDING_REGISTRATION_TTL,
        };
        // No organization yet: the event is the installation's, its actor the registration.
        let caller = Caller::new(
            Actor::Registration {
                client_id: client_id.clone(),
                org_id: String::new(),
            },
            source,
        );
        let audit = self
            .audit(
                &caller,
                AuditAction::RegistrationCreate,
                &client_id,
                None,
                json!({
                    "name": metadata.client_name,
                    "redirect_uris": metadata.redirect_uris.len(),
                    "expires_at": record.expires_at,
                }),
            )
            .map_err(registration_error)?;
        if !self
            .store
            .insert_pending_registration(&record, MAX_PENDING_REGISTRATIONS, now, &audit)
            .await?
        {
            let mut e = OAuthError::new(
                ErrorCode::SlowDown,
                "too many registrations are waiting for their first authorization; try again later",
            );
            e.retry_after = Some(60);
            return Err(e);
        }
        let information = ClientInformation {
            registration_access_token: Some(token),
            ..ClientInformation::new(
                &client_id,
                now,
                self.registration_client_uri(&client_id),
                &metadata,
                None,
            )
        };
        Ok(Registered { information })
    }

    /// Whether `client_id` is a registration waiting for its organization.
    pub async fn is_pending_registration(&self, client_id: &str) -> Result<bool, OAuthError> {
        Ok(self
            .store
            .registration(client_id, self.clock.now())
            .await?
            .is_some_and(|r| !r.bound))
    }

    /// Binds the pending registration `client_id` to the organization owning the first of
    /// `resources` whose organization is open to registration and has `user_id` (signed in)
    /// as a member: creates its app there (the registration acting, audited), scopes limited
    /// to the ceiling. `Ok(false)` when `client_id` is no pending registration (already an
    /// app, unknown or expired): the authorization request goes on as it would have.
    pub async fn bind_registration(
        &self,
        client_id: &str,
        resources: &[String],
        user_id: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<bool, OAuthError> {
        let now = self.clock.now();
        let Some(record) = self.store.registration(client_id, now).await? else {
            return Ok(false);
        };
        if record.bound {
            return Ok(false);
        }
        let metadata: ClientMetadata = serde_json::from_str(&record.metadata)
            .map_err(|e| OAuthError::server_error(format!("stored registration: {e}")))?;
        let mut target = None;
        // Bounded: the authorization request's parameters are.
        for resource in resources {
            if policy::is_reserved_identifier(&self.issuer, resource) {
                continue;
            }
            let Some(rs) = self.store.resource_server(resource).await? else {
                continue;
            };
            let Some(ceiling) = self.store.registration_ceiling(&rs.org_id).await? else {
                continue;
            };
            if self.store.membership(&rs.org_id, user_id).await?.is_some() {
                target = Some((rs.org_id.clone(), ceiling));
                break;
            }
        }
        let Some((org_id, ceiling)) = target else {
            return Err(OAuthError::invalid_request(
                "this app's registration waits for an organization: the authorization request \
                 must name (as resource) an API of an organization that accepts registration \
                 and that you belong to",
            ));
        };
        let mut allowed = ScopeSet::parse(&ceiling).unwrap_or_default();
        for s in scope::OIDC_SCOPES {
            allowed.insert(s);
        }
        let asked = metadata.scopes();
        let scopes = if asked.is_empty() {
            allowed
        } else {
            asked.intersection(&allowed)
        };
        let caller = Caller::new(
            Actor::Registration {
                client_id: client_id.to_string(),
                org_id: org_id.clone(),
            },
            source,
        );
        let (created, audit) = self
            .prepare_app(
                &caller,
                &org_id,
                metadata.new_app(&scopes),
                Some(client_id.to_string()),
            )
            .await
            .map_err(|e| {
                let e = registration_error(e);
                OAuthError::invalid_request(format!(
                    "this app's registration cannot join the organization: {}",
                    e.description
                ))
            })?;
        match self
            .store
            .bind_registration(&created.app, now, MAX_REGISTERED_APPS_PER_ORG, &audit)
            .await
        {
            Ok(Binding::Bound) => Ok(true),
            // Bound by a request a moment earlier, or gone: as if it were not pending.
            Ok(Binding::Gone) | Err(crate::StoreError::Conflict(_)) => Ok(false),
            Ok(Binding::Full) => Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the organization accepts no more registered apps",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The registration `client_id` if `token` is its registration access token.
    async fn registration_holding(
        &self,
        client_id: &str,
        token: &str,
    ) -> Result<RegistrationRecord, OAuthError> {
        if !crate::model::is_app_id(client_id)
            || !secret::has_shape(token, secret::Kind::RegistrationToken)
        {
            return Err(invalid_token());
        }
        let record = self
            .store
            .registration(client_id, self.clock.now())
            .await?
            .ok_or_else(invalid_token)?;
        if !secret::matches(token, &record.token_hash) {
            return Err(invalid_token());
        }
        Ok(record)
    }

    fn stored_metadata(record: &RegistrationRecord) -> Result<ClientMetadata, OAuthError> {
        serde_json::from_str(&record.metadata)
            .map_err(|e| OAuthError::server_error(format!("stored registration: {e}")))
    }

    /// The registration's current state (RFC 7592 2.1).
    pub async fn read_registration(
        &self,
        client_id: &str,
        token: &str,
    ) -> Result<ClientInformation, OAuthError> {
        let record = self.registration_holding(client_id, token).await?;
        let registered = Self::stored_metadata(&record)?;
        if !record.bound {
            return Ok(ClientInformation::new(
                client_id,
                record.created_at,
                self.registration_client_uri(client_id),
                &registered,
                None,
            ));
        }
        let app = self.store.app(client_id).await?.ok_or_else(invalid_token)?;
        Ok(ClientInformation::new(
            client_id,
            record.created_at,
            self.registration_client_uri(client_id),
            &ClientMetadata::of_app(&app, Some(&registered)),
            Some(&app.org_id),
        ))
    }

    /// Replaces the registration's metadata (RFC 7592 2.2): its name, redirect URIs and
    /// scopes, never its type nor its organization, and scopes only narrower than the app
    /// has (a registration access token never widens what its app may ask for).
    pub async fn update_registration(
        &self,
        client_id: &str,
        token: &str,
        body: &Value,
        source: Option<std::net::IpAddr>,
    ) -> Result<ClientInformation, OAuthError> {
        let record = self.registration_holding(client_id, token).await?;
        if let Some(named) = body.get("client_id")
            && named.as_str() != Some(client_id)
        {
            return Err(OAuthError::invalid_request(
                "client_id in the body must be this registration's",
            ));
        }
        let registered = Self::stored_metadata(&record)?;
        let now = self.clock.now();
        if !record.bound {
            let metadata = ClientMetadata::parse(body, true)?;
            if !self
                .store
                .update_pending_registration(client_id, &json!(metadata).to_string(), now)
                .await?
            {
                return Err(invalid_token());
            }
            return Ok(ClientInformation::new(
                client_id,
                record.created_at,
                self.registration_client_uri(client_id),
                &metadata,
                None,
            ));
        }
        let app = self.store.app(client_id).await?.ok_or_else(invalid_token)?;
        let metadata = ClientMetadata::parse(body, false)?;
        if metadata.app_type() != app.app_type {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!(
                    "token_endpoint_auth_method: this registration is a {} app and stays one",
                    app.app_type.as_str()
                ),
            ));
        }
        let scopes = metadata.scope.as_ref().map(|_| metadata.scopes());
        if let Some(scopes) = &scopes {
            let wider = scopes.missing_from(&app.scopes);
            if !wider.is_empty() {
                return Err(OAuthError::new(
                    ErrorCode::InvalidClientMetadata,
                    format!(
                        "scope: a registration may narrow its scopes, not add {}",
                        wider.join(" ")
                    ),
                ));
            }
        }
        let caller = Caller::new(
            Actor::Registration {
                client_id: client_id.to_string(),
                org_id: app.org_id.clone(),
            },
            source,
        );
        let changes = super::AppChanges {
            name: Some(
                metadata
                    .client_name
                    .clone()
                    .unwrap_or_else(|| app.name.clone()),
            ),
            redirect_uris: Some(metadata.redirect_uris.clone()),
            post_logout_redirect_uris: Some(metadata.post_logout_redirect_uris.clone()),
            scopes: scopes.map(|s| s.iter().map(str::to_string).collect()),
            access_token_ttl: None,
            require_par: None,
        };
        let updated = self
            .update_app(&caller, None, client_id, changes)
            .await
            .map_err(registration_error)?;
        Ok(ClientInformation::new(
            client_id,
            record.created_at,
            self.registration_client_uri(client_id),
            &ClientMetadata::of_app(&updated, Some(&registered)),
            Some(&updated.org_id),
        ))
    }

    /// Deletes the registration (RFC 7592 2.3): its app (audited, as any app's deletion), or
    /// the pending registration.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        token: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<(), OAuthError> {
        let record = self.registration_holding(client_id, token).await?;
        if !record.bound {
            self.store
                .delete_pending_registration(client_id, self.clock.now())
                .await?;
            return Ok(());
        }
        let app = self.store.app(client_id).await?.ok_or_else(invalid_token)?;
        let caller = Caller::new(
            Actor::Registration {
                client_id: client_id.to_string(),
                org_id: app.org_id.clone(),
            },
            source,
        );
        self.delete_app(&caller, None, client_id)
            .await
            .map_err(registration_error)
    }
}

fn full() -> OAuthError {
    OAuthError::new(
        ErrorCode::AccessDenied,
        "the organization holds its most dynamically registered apps",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::scope;
    use crate::testing::{World, ok};

    const API: &str = "https://api.acme.test";

    async fn world_with_api() -> World {
        let w = World::new().await;
        ok(w.manager
            .create_resource_server(
                &Caller::operator(),
                &w.org.id,
                API,
                "API",
                vec![scope("orders:read", "Read"), scope("orders:write", "Write")],
            )
            .await);
        w
    }

    fn native(scope: &str) -> Value {
        json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "scope": scope,
        })
    }

    #[tokio::test]
    async fn a_pending_registration_binds_to_an_open_organization_within_its_ceiling() {
        let w = world_with_api().await;
        let body = native("openid orders:read orders:write");
        let closed = w.manager.register_anonymously(None, &body).await;
        assert_eq!(
            closed.map(|_| ()).unwrap_err().code,
            ErrorCode::InvalidToken
        );
        let member = World::signed_in(&w.member);
        let refused = w
            .manager
            .open_registration(&member, "acme", vec!["orders:read".into()])
            .await;
        assert!(
            matches!(refused, Err(ServiceError::Forbidden(_))),
            "{refused:?}"
        );
        let owner = World::signed_in(&w.owner);
        let beyond = w
            .manager
            .open_registration(&owner, "acme", vec!["grantor:apps".into()])
            .await;
        assert!(
            matches!(beyond, Err(ServiceError::InvalidFields(_))),
            "{beyond:?}"
        );
        ok(w.manager
            .open_registration(&owner, "acme", vec!["orders:read".into()])
            .await);

        let reg = ok(w.manager.register_anonymously(None, &body).await).information;
        let id = reg.client_id.clone();
        assert!(ok(w.store.app(&id).await).is_none(), "pending, no app yet");
        let no_resource = w
            .manager
            .bind_registration(&id, &[], &w.member.id, None)
            .await;
        assert_eq!(no_resource.unwrap_err().code, ErrorCode::InvalidRequest);
        let outsider = ok(w
            .manager
            .create_user(&Caller::operator(), "eve@other.test", None, None, false)
            .await);
        let stranger = w
            .manager
            .bind_registration(&id, &[API.into()], &outsider.id, None)
            .await;
        assert_eq!(
            stranger.unwrap_err().code,
            ErrorCode::InvalidRequest,
            "only a member of the organization binds a registration to it"
        );
        assert!(ok(w
            .manager
            .bind_registration(&id, &[API.into()], &w.member.id, None)
            .await));
        let app = ok(w.store.app(&id).await).unwrap();
        assert_eq!(app.org_id, w.org.id);
        assert!(app.scopes.contains("orders:read") && app.scopes.contains("openid"));
        assert!(!app.scopes.contains("orders:write"), "beyond the ceiling");
        assert!(
            !ok(w
                .manager
                .bind_registration(&id, &[API.into()], &w.member.id, None)
                .await),
            "bound once"
        );
        let created = w
            .store
            .audit_trail()
            .into_iter()
            .find(|e| e.action == AuditAction::AppCreate && e.target == id);
        assert_eq!(created.unwrap().actor, format!("registration:{id}"));
    }

    #[tokio::test]
    async fn an_organization_holds_at_most_its_cap_of_registered_apps() {
        let w = world_with_api().await;
        let developer = Caller::new(
            Actor::User {
                user_id: w.developer.id.clone(),
                platform_admin: false,
                token: Some(crate::model::TokenLimits {
                    org_id: w.org.id.clone(),
                    scopes: crate::testing::scopes("grantor:apps"),
                }),
            },
            None,
        );
        for _ in 0..MAX_REGISTERED_APPS_PER_ORG {
            ok(w.manager
                .register_with_token(&developer, &native("orders:read"))
                .await);
        }
        let full = w
            .manager
            .register_with_token(&developer, &native("orders:read"))
            .await;
        assert_eq!(full.map(|_| ()).unwrap_err().code, ErrorCode::AccessDenied);
        // Apps made otherwise do not count, and are not held back.
        let owner = World::signed_in(&w.owner);
        ok(w.manager
            .create_app(
                &owner,
                "acme",
                crate::testing::new_app(crate::model::AppType::Native, "CLI", &[]),
            )
            .await);
    }

    #[tokio::test]
    async fn a_registration_token_reaches_its_own_app_and_never_widens_it() {
        let w = world_with_api().await;
        let owner = World::signed_in(&w.owner);
        ok(w.manager
            .open_registration(
                &owner,
                "acme",
                vec!["orders:read".into(), "orders:write".into()],
            )
            .await);
        let reg = ok(w
            .manager
            .register_anonymously(None, &native("orders:read"))
            .await)
        .information;
        let token = reg.registration_access_token.clone().unwrap();
        let id = reg.client_id.clone();
        ok(w.manager
            .bind_registration(&id, &[API.into()], &w.member.id, None)
            .await);
        let read = ok(w.manager.read_registration(&id, &token).await);
        assert_eq!(read.grantor_org_id.as_deref(), Some(w.org.id.as_str()));
        let wider = w
            .manager
            .update_registration(&id, &token, &native("orders:read orders:write"), None)
            .await;
        assert_eq!(wider.unwrap_err().code, ErrorCode::InvalidClientMetadata);
        let other = ok(w
            .manager
            .register_anonymously(None, &native("orders:read"))
            .await)
        .information;
        let theirs = other.registration_access_token.unwrap();
        let refused = w.manager.read_registration(&id, &theirs).await;
        assert_eq!(refused.unwrap_err().code, ErrorCode::InvalidToken);
        ok(w.manager.delete_registration(&id, &token, None).await);
        assert!(ok(w.store.app(&id).await).is_none());
        let gone = w.manager.read_registration(&id, &token).await;
        assert_eq!(gone.unwrap_err().code, ErrorCode::InvalidToken);
    }
}
