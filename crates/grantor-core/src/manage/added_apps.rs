//! Apps an organization added (its own or another organization's), with the scopes it chose.

use super::Governed;
use super::Manager;
use crate::model::{App, AuditAction, Caller, OrgAccessGrant};
use crate::policy::{self, Action};
use crate::scope::ScopeSet;
use crate::store::{AddedAppStore, AppStore, Window};
use crate::{FieldErrors, ServiceError};
use serde_json::json;

impl<S: Governed + AppStore + AddedAppStore> Manager<S> {
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
            AuditAction::AppAddToOrganization,
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
            AuditAction::AppRemoveFromOrganization,
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
}
