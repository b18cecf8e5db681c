//! Who may do what. Every management path (CLI, console, management API) asks here; no
//! handler decides permissions on its own.

use crate::ServiceError;
use crate::model::{Actor, OrgAccessGrant, Role};
use crate::scope::ScopeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateOrganization,
    ManageUsers,
    ViewOrganization,
    /// Seeing who belongs to the organization.
    ViewMembers,
    ManageMembers,
    ManageResourceServers,
    ManageApps,
    RegenerateAppSecret,
    AddAppToOrganization,
    /// Adding an app with Grantor's management scopes: it becomes an admin client.
    GrantManagementScopes,
    /// A member's own API tokens.
    ManageOwnApiTokens,
    /// Reading the organization's audit log.
    ViewAudit,
    /// Opening (or closing) the organization to anonymous dynamic registration of native
    /// apps, and choosing the scopes such apps may ask for.
    ManageRegistration,
    /// Changing the organization's settings (requiring a second factor).
    ManageOrganization,
}

impl Action {
    const ALL: [Self; 14] = [
        Self::CreateOrganization,
        Self::ManageUsers,
        Self::ViewOrganization,
        Self::ViewMembers,
        Self::ManageMembers,
        Self::ManageResourceServers,
        Self::ManageApps,
        Self::RegenerateAppSecret,
        Self::AddAppToOrganization,
        Self::GrantManagementScopes,
        Self::ManageOwnApiTokens,
        Self::ViewAudit,
        Self::ManageRegistration,
        Self::ManageOrganization,
    ];

    /// The action whose [`Self::name`] this is.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The least role in the organization that may do this.
    fn required_role(self) -> Option<Role> {
        match self {
            Self::CreateOrganization | Self::ManageUsers => None,
            Self::ViewOrganization | Self::ViewMembers | Self::ManageOwnApiTokens => {
                Some(Role::Member)
            }
            Self::ManageResourceServers | Self::ManageApps => Some(Role::Developer),
            Self::ManageMembers
            | Self::RegenerateAppSecret
            | Self::AddAppToOrganization
            | Self::GrantManagementScopes
            | Self::ViewAudit
            | Self::ManageRegistration
            | Self::ManageOrganization => Some(Role::Owner),
        }
    }

    /// The management scope an admin client needs for this.
    fn required_scope(self) -> &'static str {
        match self {
            Self::CreateOrganization | Self::ManageUsers => "grantor:orgs",
            Self::ViewOrganization
            | Self::ManageApps
            | Self::RegenerateAppSecret
            | Self::AddAppToOrganization
            | Self::GrantManagementScopes
            | Self::ManageRegistration => "grantor:apps",
            Self::ViewMembers | Self::ManageMembers | Self::ManageOrganization => "grantor:members",
            Self::ManageOwnApiTokens => "grantor:api-tokens",
            Self::ViewAudit => "grantor:audit",
            Self::ManageResourceServers => "grantor:resources",
        }
    }

    /// The action's name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateOrganization => "organization.create",
            Self::ManageUsers => "user.manage",
            Self::ViewOrganization => "organization.view",
            Self::ViewMembers => "member.view",
            Self::ManageMembers => "member.manage",
            Self::ManageResourceServers => "resource_server.manage",
            Self::ManageApps => "app.manage",
            Self::RegenerateAppSecret => "app.regenerate_secret",
            Self::AddAppToOrganization => "app.add_to_organization",
            Self::GrantManagementScopes => "app.grant_management_scopes",
            Self::ManageOwnApiTokens => "api_token.manage",
            Self::ViewAudit => "audit.view",
            Self::ManageRegistration => "registration.manage",
            Self::ManageOrganization => "organization.manage",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::CreateOrganization => "create organizations",
            Self::ManageUsers => "manage users",
            Self::ViewOrganization => "view this organization",
            Self::ViewMembers => "see the members",
            Self::ManageMembers => "manage members",
            Self::ManageResourceServers => "manage resource servers",
            Self::ManageApps => "manage apps",
            Self::RegenerateAppSecret => "regenerate app secrets",
            Self::AddAppToOrganization => "add apps to the organization",
            Self::GrantManagementScopes => "grant management scopes",
            Self::ManageOwnApiTokens => "manage API tokens",
            Self::ViewAudit => "read the audit log",
            Self::ManageRegistration => "open or close dynamic registration",
            Self::ManageOrganization => "change the organization's settings",
        }
    }
}

/// Whether holding `role` in an organization is enough for `action` there, so pages can leave
/// out what a role may not use. Only a hint for display: `Manager` still calls [`check`].
pub fn role_may(role: Role, action: Action) -> bool {
    action.required_role().is_some_and(|needed| role >= needed)
}

/// The management scopes a user may put in an API token (and so act with through it): what
/// their role lets them do, and `grantor:orgs` only for platform admins.
pub fn management_scopes_for(role: Role, platform_admin: bool) -> ScopeSet {
    let mut scopes: ScopeSet = ["grantor:apps", "grantor:api-tokens"].into_iter().collect();
    if role >= Role::Developer {
        scopes.insert("grantor:resources");
    }
    if role >= Role::Owner {
        scopes.insert("grantor:members");
        scopes.insert("grantor:audit");
    }
    if platform_admin {
        scopes.insert("grantor:orgs");
    }
    scopes
}

/// The scopes `actor` may hand on to something it makes (an API token), of those `wanted`:
/// none it does not hold. A user's token holds its own scopes (a session, the whole role);
/// the operator holds everything. Returns the scopes refused.
pub fn beyond_holding<'a>(actor: &'a Actor, wanted: &'a ScopeSet) -> Vec<&'a str> {
    match actor {
        Actor::Operator | Actor::User { token: None, .. } => Vec::new(),
        Actor::User {
            token: Some(token), ..
        } => wanted.missing_from(&token.scopes),
        Actor::AdminClient { scopes, .. } => wanted.missing_from(scopes),
        // A registration hands nothing on.
        Actor::Registration { .. } => wanted.iter().collect(),
    }
}

/// Whether `actor` may take hold of an app: learn a new secret of it, or add it to an
/// organization with `more` (a grant about to be made). Owners may; an admin client only when
/// every grant the app holds, in every organization, and `more` are within its own, so no
/// app's secret or grant lifts it above the scopes it was given.
pub fn may_take_hold_of(
    actor: &Actor,
    grants: &[OrgAccessGrant],
    more: Option<(&str, &ScopeSet)>,
) -> Result<(), ServiceError> {
    if let Actor::Registration { .. } = actor {
        return Err(ServiceError::Forbidden(
            "a registration access token manages its own app's registration only".into(),
        ));
    }
    let Actor::AdminClient { org_id, scopes, .. } = actor else {
        return Ok(());
    };
    let within = |org: &str, granted: &ScopeSet| org == org_id && granted.is_subset(scopes);
    let held = grants.iter().all(|g| within(&g.org_id, &g.scopes))
        && more.is_none_or(|(org, granted)| within(org, granted));
    if held {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "an admin client may regenerate the secret of an app, or add one to its organization, only when every grant of that app, in every organization, is within its own scopes".into(),
        ))
    }
}

/// Whether `identifier` (a would-be resource server's) is one of the issuer's own URLs: the
/// issuer itself or anything under it (the management API, the endpoints). Such an audience
/// belongs to Grantor, so no organization may take it.
pub fn is_reserved_identifier(issuer: &str, identifier: &str) -> bool {
    let (Ok(issuer), Ok(candidate)) = (url::Url::parse(issuer), url::Url::parse(identifier)) else {
        return false;
    };
    if issuer.origin() != candidate.origin() {
        return false;
    }
    let base = issuer.path().trim_end_matches('/');
    let path = candidate.path();
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `actor` may see and revoke its user's API tokens at all: through a token, only one
/// holding `grantor:api-tokens`. (An admin client has no API tokens.)
pub fn may_manage_api_tokens(actor: &Actor) -> Result<(), ServiceError> {
    let scope = Action::ManageOwnApiTokens.required_scope();
    match actor {
        Actor::User {
            token: Some(token), ..
        } if !token.scopes.contains(scope) => Err(ServiceError::Forbidden(format!(
            "you may not {}: it needs the {scope} scope",
            Action::ManageOwnApiTokens.describe()
        ))),
        Actor::Registration { .. } => Err(ServiceError::Forbidden(
            "a registration access token has no API tokens".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether `actor` reaches its user's API token of organization `org_id`: a token acts in its
/// own organization only, unless it is a platform admin's; a session and the operator reach all.
pub fn reaches_api_token(actor: &Actor, org_id: &str) -> bool {
    match actor {
        Actor::Operator
        | Actor::User { token: None, .. }
        | Actor::User {
            platform_admin: true,
            ..
        } => true,
        Actor::User {
            token: Some(token), ..
        } => token.org_id == org_id,
        Actor::AdminClient { .. } | Actor::Registration { .. } => false,
    }
}

/// Whether `actor` may act on what belongs to the user `owner_id` (their API tokens, their
/// approvals): only that user, or the operator. Callers answer "not found" otherwise, so
/// nobody learns what others hold.
pub fn owns(actor: &Actor, owner_id: &str) -> bool {
    match actor {
        Actor::Operator => true,
        Actor::User { user_id, .. } => user_id == owner_id,
        Actor::AdminClient { .. } | Actor::Registration { .. } => false,
    }
}

/// Whether `actor` may know that organization `org_id` exists (holding `role` there):
/// otherwise anything in it is "not found", never "forbidden". A user's token sees only its
/// own organization; a platform admin and the operator see all.
pub fn can_see(actor: &Actor, org_id: &str, role: Option<Role>) -> bool {
    match actor {
        Actor::Operator
        | Actor::User {
            platform_admin: true,
            ..
        } => true,
        Actor::User { token, .. } => {
            role.is_some() && token.as_ref().is_none_or(|t| t.org_id == org_id)
        }
        Actor::AdminClient { org_id: own, .. } | Actor::Registration { org_id: own, .. } => {
            own == org_id
        }
    }
}

/// Whether `actor` reaches app `client_id` at all: a registration access token (RFC 7592)
/// reaches its own app and no other of its organization; everyone else as their role says.
pub fn reaches_app(actor: &Actor, client_id: &str) -> bool {
    match actor {
        Actor::Registration { client_id: own, .. } => own == client_id,
        _ => true,
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
        // What a token may do is the intersection of its scopes and what its user may do.
        Actor::User {
            token: Some(token), ..
        } if !token.scopes.contains(action.required_scope()) => false,
        Actor::User {
            platform_admin: true,
            ..
        } => true,
        Actor::User { .. } => role.is_some_and(|held| role_may(held, action)),
        Actor::AdminClient {
            org_id: own,
            scopes,
            ..
        } => {
            let in_own_org = match org_id {
                Some(target) => target == own,
                None => false,
            };
            // An admin client never hands management scopes on: only people (owners) do.
            in_own_org
                && action != Action::GrantManagementScopes
                && scopes.contains(action.required_scope())
        }
        // Its own app (see `reaches_app`), in its own organization: registering, changing
        // and deleting it, nothing else.
        Actor::Registration { org_id: own, .. } => {
            org_id == Some(own.as_str()) && action == Action::ManageApps
        }
    };
    if allowed {
        Ok(())
    } else {
        let needed = match (actor, action.required_role()) {
            (
                Actor::User {
                    token: Some(token), ..
                },
                _,
            ) if !token.scopes.contains(action.required_scope()) => {
                format!("the {} scope", action.required_scope())
            }
            (Actor::AdminClient { .. }, _) if action == Action::GrantManagementScopes => {
                "an owner of the organization".to_string()
            }
            (Actor::AdminClient { .. }, _) => {
                format!("the {} scope in this organization", action.required_scope())
            }
            (Actor::Registration { .. }, _) => "more than a registration access token".to_string(),
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
    use crate::model::TokenLimits;

    #[test]
    fn api_token_scopes_follow_the_role() {
        let member = management_scopes_for(Role::Member, false);
        assert!(member.contains("grantor:api-tokens") && !member.contains("grantor:members"));
        let owner = management_scopes_for(Role::Owner, false);
        assert!(owner.contains("grantor:members") && !owner.contains("grantor:orgs"));
        assert!(management_scopes_for(Role::Member, true).contains("grantor:orgs"));
    }

    fn user() -> Actor {
        Actor::User {
            user_id: "u".into(),
            platform_admin: false,
            token: None,
        }
    }

    #[test]
    fn a_users_token_is_held_to_its_scopes_and_the_role() {
        let token = |scopes: &str| Actor::User {
            user_id: "u".into(),
            platform_admin: false,
            token: Some(TokenLimits {
                org_id: "o".into(),
                scopes: ScopeSet::parse(scopes).unwrap(),
            }),
        };
        let owner = Some(Role::Owner);
        assert!(check(&token("grantor:apps"), Action::ManageApps, Some("o"), owner).is_ok());
        let refused = check(
            &token("grantor:apps"),
            Action::ManageMembers,
            Some("o"),
            owner,
        );
        assert!(format!("{refused:?}").contains("grantor:members"));
        let member = Some(Role::Member);
        assert!(
            check(
                &token("grantor:apps"),
                Action::ManageApps,
                Some("o"),
                member
            )
            .is_err()
        );
    }

    #[test]
    fn what_a_role_may_do_matches_the_check() {
        for role in [Role::Member, Role::Developer, Role::Owner] {
            for action in [
                Action::ManageApps,
                Action::RegenerateAppSecret,
                Action::ManageMembers,
                Action::ManageOwnApiTokens,
                Action::CreateOrganization,
                Action::ManageOrganization,
            ] {
                let checked = check(&user(), action, Some("o"), Some(role)).is_ok();
                assert_eq!(role_may(role, action), checked, "{role} {action:?}");
            }
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
    fn a_registration_reaches_its_own_app_only() {
        let reg = Actor::Registration {
            client_id: "app_1".into(),
            org_id: "o".into(),
        };
        assert!(check(&reg, Action::ManageApps, Some("o"), None).is_ok());
        assert!(check(&reg, Action::ManageApps, Some("other"), None).is_err());
        assert!(check(&reg, Action::ManageRegistration, Some("o"), None).is_err());
        assert!(check(&reg, Action::RegenerateAppSecret, Some("o"), None).is_err());
        assert!(reaches_app(&reg, "app_1") && !reaches_app(&reg, "app_2"));
        assert!(may_take_hold_of(&reg, &[], None).is_err());
        assert!(can_see(&reg, "o", None) && !can_see(&reg, "other", None));
    }

    #[test]
    fn only_owners_open_registration() {
        assert!(role_may(Role::Owner, Action::ManageRegistration));
        assert!(!role_may(Role::Developer, Action::ManageRegistration));
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
        let full = Actor::AdminClient {
            client_id: "c".into(),
            org_id: "o".into(),
            scopes: ScopeSet::parse("grantor:apps grantor:members").unwrap(),
        };
        assert!(check(&full, Action::AddAppToOrganization, Some("o"), None).is_ok());
        assert!(check(&full, Action::GrantManagementScopes, Some("o"), None).is_err());
    }
}
