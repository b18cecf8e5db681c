//! Organizations: creating one, and which of them a caller can see.

use super::Governed;
use super::{Manager, refuse_control_characters};
use crate::model::{Actor, AuditAction, Caller, Organization};
use crate::policy::{self, Action};
use crate::store::Window;
use crate::{FieldErrors, ServiceError, secret};
use serde_json::json;

impl<S: Governed> Manager<S> {
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
            require_second_factor: false,
        };
        let audit = self.audit(
            actor,
            AuditAction::OrganizationCreate,
            &org.id,
            Some(&org.id),
            json!({"name": org.name}),
        )?;
        self.store.create_organization(&org, &audit).await?;
        Ok(org)
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
            // A registration access token lists nothing.
            Actor::Registration { .. } => Ok(Vec::new()),
        }
    }

    /// Turns on or off whether the organization's apps, console and API tokens need a
    /// second factor (owners only).
    pub async fn set_require_second_factor(
        &self,
        actor: &Caller,
        org: &str,
        required: bool,
    ) -> Result<Organization, ServiceError> {
        let mut org = self
            .org_allowing(actor, org, Action::ManageOrganization)
            .await?;
        let audit = self.audit(
            actor,
            AuditAction::OrganizationUpdate,
            &org.id,
            Some(&org.id),
            json!({"require_second_factor": required}),
        )?;
        self.store
            .set_require_second_factor(&org.id, required, &audit)
            .await?;
        org.require_second_factor = required;
        Ok(org)
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
}
