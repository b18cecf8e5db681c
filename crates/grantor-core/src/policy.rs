//! Who may do what. Every management path (CLI, console, management API) asks here; no
//! handler decides permissions on its own.

use crate::ServiceError;
use crate::model::{Actor, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateOrganization,
    ManageUsers,
    ViewOrganization,
    ManageMembers,
    ManageResourceServers,
    ManageApps,
    RegenerateAppSecret,
    AddAppToOrganization,
}

impl Action {
    /// The least role in the organization that may do this.
    fn required_role(self) -> Option<Role> {
        match self {
            Self::CreateOrganization | Self::ManageUsers => None,
            Self::ViewOrganization => Some(Role::Member),
            Self::ManageResourceServers | Self::ManageApps => Some(Role::Developer),
            Self::ManageMembers | Self::RegenerateAppSecret | Self::AddAppToOrganization => {
                Some(Role::Owner)
            }
        }
    }

    /// The management scope an admin client needs for this.
    fn required_scope(self) -> &'static str {
        match self {
            Self::CreateOrganization | Self::ManageUsers => "grantor:orgs",
            Self::ViewOrganization
            | Self::ManageApps
            | Self::RegenerateAppSecret
            | Self::AddAppToOrganization => "grantor:apps",
            Self::ManageMembers => "grantor:members",
            Self::ManageResourceServers => "grantor:resources",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::CreateOrganization => "create organizations",
            Self::ManageUsers => "manage users",
            Self::ViewOrganization => "view this organization",
            Self::ManageMembers => "manage members",
            Self::ManageResourceServers => "manage resource servers",
            Self::ManageApps => "manage apps",
            Self::RegenerateAppSecret => "regenerate app secrets",
            Self::AddAppToOrganization => "add apps to the organization",
        }
    }
}

/// Decides whether `actor`, holding `role` in organization `org_id` (if the action concerns
/// one), may perform `action`.
pub fn check(
    actor: &Actor,
    action: Action,
    org_id: Option<&str>,
    role: Option<Role>,
) -> Result<(), ServiceError> {
    let allowed = match actor {
        Actor::Operator => true,
        Actor::User {
            platform_admin: true,
            ..
        } => true,
        Actor::User { .. } => match (action.required_role(), role) {
            (Some(needed), Some(held)) => held >= needed,
            _ => false,
        },
        Actor::AdminClient {
            org_id: own,
            scopes,
            ..
        } => {
            let in_own_org = match org_id {
                Some(target) => target == own,
                None => false,
            };
            in_own_org && scopes.contains(action.required_scope())
        }
    };
    if allowed {
        Ok(())
    } else {
        let needed = match (actor, action.required_role()) {
            (Actor::AdminClient { .. }, _) => {
                format!("the {} scope in this organization", action.required_scope())
            }
            (_, Some(role)) => format!("the {role} role"),
            (_, None) => "platform admin rights".to_string(),
        };
        Err(ServiceError::Forbidden(format!(
            "you may not {}: it needs {needed}",
            action.describe()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeSet;

    fn user() -> Actor {
        Actor::User {
            user_id: "u".into(),
            platform_admin: false,
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(
            check(
                &user(),
                Action::ManageApps,
                Some("o"),
                Some(Role::Developer)
            )
            .is_ok()
        );
        assert!(check(&user(), Action::ManageApps, Some("o"), Some(Role::Member)).is_err());
        assert!(
            check(
                &user(),
                Action::RegenerateAppSecret,
                Some("o"),
                Some(Role::Developer)
            )
            .is_err()
        );
        assert!(
            check(
                &user(),
                Action::RegenerateAppSecret,
                Some("o"),
                Some(Role::Owner)
            )
            .is_ok()
        );
        assert!(check(&user(), Action::ViewOrganization, Some("o"), None).is_err());
        assert!(check(&user(), Action::CreateOrganization, None, None).is_err());
    }

    #[test]
    fn admin_clients_need_scope_and_their_own_org() {
        let admin = Actor::AdminClient {
            client_id: "c".into(),
            org_id: "o".into(),
            scopes: ScopeSet::parse("grantor:apps").unwrap(),
        };
        assert!(check(&admin, Action::ManageApps, Some("o"), None).is_ok());
        assert!(check(&admin, Action::ManageApps, Some("other"), None).is_err());
        assert!(check(&admin, Action::ManageMembers, Some("o"), None).is_err());
    }
}
