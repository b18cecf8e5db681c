//! Resource servers (APIs) and the scopes they declare.

use super::Governed;
use super::{Manager, refuse_control_characters};
use crate::model::{AuditAction, Caller, ResourceServer, ScopeDefinition};
use crate::policy::{self, Action};
use crate::scope;
use crate::store::ResourceServerStore;
use crate::{FieldErrors, ServiceError, secret};
use serde_json::json;

/// What may change about a resource server; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
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

impl<S: Governed + ResourceServerStore> Manager<S> {
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
            AuditAction::ResourceServerCreate,
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
            AuditAction::ResourceServerUpdate,
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
            AuditAction::ResourceServerDelete,
            &rs.id,
            Some(&rs.org_id),
            describe_resource_server(&rs),
        )?;
        Ok(self.store.delete_resource_server(&rs.id, &audit).await?)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::{fields, resource_server, scope};

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
}
