//! The frame of every console page: who is signed in, in which organization, with which
//! role (and so what the page offers), the organization switcher, and the extractors that
//! open it for a request: [`Console`] for a page, [`ConsoleForm`] for a form's answer.

use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::PageForm;
use crate::web::{csrf, see_other, session};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use grantor_core::ServiceError;
use grantor_core::model::{Caller, Role};
use grantor_core::params::Params;
use grantor_core::policy::{self, Action};
use grantor_core::store::Window;
use std::collections::HashMap;
use std::net::IpAddr;

/// Other organizations the switcher offers; a user may belong to a thousand.
const ORG_SWITCHER_MAX: usize = 20;

/// What a role may use, from the policy module, so templates leave out the rest.
#[derive(Debug, Clone, Copy)]
pub struct Can {
    pub manage_apps: bool,
    pub manage_resource_servers: bool,
    pub manage_members: bool,
    pub regenerate_secrets: bool,
    pub add_apps: bool,
    pub view_audit: bool,
    pub manage_registration: bool,
}

impl Can {
    fn of(role: Role) -> Self {
        let may = |action| policy::role_may(role, action);
        Self {
            manage_apps: may(Action::ManageApps),
            manage_resource_servers: may(Action::ManageResourceServers),
            manage_members: may(Action::ManageMembers),
            regenerate_secrets: may(Action::RegenerateAppSecret),
            add_apps: may(Action::AddAppToOrganization),
            view_audit: may(Action::ViewAudit),
            manage_registration: may(Action::ManageRegistration),
        }
    }
}

/// The frame of every console page: who is signed in, in which organization, with which
/// role, and where else they can go.
pub struct Nav {
    pub org_id: String,
    pub org_name: String,
    pub role: Role,
    pub email: String,
    /// The other organizations the user belongs to: `(id, name)`.
    pub other_orgs: Vec<(String, String)>,
    pub section: &'static str,
    pub can: Can,
    pub csrf: String,
}

impl Nav {
    /// The path of the organization's console, `/console/orgs/{id}`.
    pub fn base(&self) -> String {
        format!("/console/orgs/{}", self.org_id)
    }
}

/// A signed-in user inside one organization of the console.
pub struct Console {
    pub caller: Caller,
    pub user_id: String,
    pub nav: Nav,
    /// The session's hash: what its forms' CSRF tokens are bound to.
    session: String,
}

impl Console {
    /// Opens `section` of organization `org` for the signed-in user: to the sign-in page
    /// without a session, "not found" for an organization they do not belong to.
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        source: IpAddr,
        org: &str,
        section: &'static str,
    ) -> Result<Self, PageError> {
        let Some(current) = session::current(state, headers).await else {
            return Err(PageError::SignIn {
                return_to: format!("/console/orgs/{org}/{section}"),
            });
        };
        let caller = current.caller(source);
        let (user, here, others) = state
            .manager
            .console_frame(&caller, org, ORG_SWITCHER_MAX)
            .await?;
        // An organization that requires a second factor opens its console only to a
        // session signed in with one.
        if !current.user.method.is_multi_factor()
            && let Some(enrolled) = state
                .manager
                .second_factor_rule(&here.org_id, &user.id)
                .await?
        {
            return Err(PageError::SecondFactor {
                org_name: here.org_name.clone(),
                return_to: format!("/console/orgs/{}/{section}", here.org_id),
                enrolled,
            });
        }
        let nav = Nav {
            org_id: here.org_id.clone(),
            org_name: here.org_name.clone(),
            role: here.role,
            email: user.email,
            other_orgs: others.into_iter().map(|o| (o.id, o.name)).collect(),
            section,
            can: Can::of(here.role),
            csrf: csrf::token(&state.csrf_key, &current.id_hash),
        };
        Ok(Self {
            caller,
            user_id: user.id,
            nav,
            session: current.id_hash,
        })
    }

    pub fn base(&self) -> String {
        self.nav.base()
    }

    /// The caller's key in the store of one-time forms.
    pub fn once_caller(&self) -> String {
        format!("console {}", self.caller.audit_name())
    }
}

/// The console section a path belongs to: its first segment after the organization.
fn section_of(path: &str) -> Option<&'static str> {
    let segment = path.strip_prefix("/console/orgs/")?.split('/').nth(1)?;
    Some(match segment {
        "apps" => "apps",
        "added-apps" => "added-apps",
        "resource-servers" => "resource-servers",
        "api-tokens" => "api-tokens",
        "audit" => "audit",
        "registration" => "registration",
        "members" | "invitations" => "members",
        _ => return None,
    })
}

/// A console page's request: the organization and section come from its path
/// (`/console/orgs/{org}/{section}/...`); rejected as [`Console::open`] would.
impl FromRequestParts<AppState> for Console {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let not_found = || PageError::Console(ServiceError::NotFound("page".into()));
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        let org = params.get("org").ok_or_else(not_found)?;
        let section = section_of(parts.uri.path()).ok_or_else(not_found)?;
        let source = ClientAddress::of(parts, state);
        Self::open(state, &parts.headers, source, org, section).await
    }
}

/// A console form's answer: the console as [`Console`] opens it, the form, and its CSRF token
/// checked against the session.
pub struct ConsoleForm {
    pub console: Console,
    pub form: Params,
}

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let PageForm(form) =
            PageForm::from_request(Request::from_parts(parts, body), state).await?;
        if !csrf::verify(&state.csrf_key, &console.session, form.get("csrf")) {
            return Err(PageError::FormExpired(
                "This form is no longer valid (it may be from an earlier session). Go back, reload the page and try again.",
            ));
        }
        Ok(Self { console, form })
    }
}

/// `/console`: the first organization the user belongs to.
pub async fn home(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(current) = session::current(&state, &headers).await else {
        return Err(PageError::SignIn {
            return_to: "/console".into(),
        });
    };
    let caller = current.caller(source);
    let orgs = state
        .manager
        .organizations(&caller, Window::first(1))
        .await?;
    let org = orgs.first().ok_or_else(|| {
        ServiceError::NotFound(
            "you belong to no organization yet: ask an owner for an invitation; the organization"
                .into(),
        )
    })?;
    Ok(see_other(&format!("/console/orgs/{}/apps", org.id)))
}

pub async fn org_home(Path(org): Path<String>) -> Response {
    see_other(&format!("/console/orgs/{org}/apps"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_see_what_they_may_use() {
        let member = Can::of(Role::Member);
        assert!(!member.manage_apps && !member.manage_members && !member.view_audit);
        let developer = Can::of(Role::Developer);
        assert!(developer.manage_apps && developer.manage_resource_servers);
        assert!(!developer.regenerate_secrets && !developer.add_apps);
        let owner = Can::of(Role::Owner);
        assert!(owner.regenerate_secrets && owner.add_apps && owner.manage_members);
    }
}
