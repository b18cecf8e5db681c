//! `/console`: an organization's apps, resource servers, members, API tokens and audit log,
//! for its owners, developers and members. Server-rendered, usable without JavaScript.
//!
//! Handlers stay thin: they open the console (session, organization, role, CSRF), call
//! `Manager`, and render. `Manager` checks the policy and audits every change, so what a page
//! leaves out for a role is a courtesy; the server refuses it anyway.

mod added;
mod api_tokens;
mod app_parts;
mod apps;
mod audit;
mod members;
mod resource_servers;
mod wizard;

use super::{csrf, see_other, session};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{PageError, sentence};
use crate::input::PageForm;
use crate::once::{Claim, OnceKey};
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use grantor_core::ServiceError;
use grantor_core::model::{Caller, Role};
use grantor_core::params::Params;
use grantor_core::policy::{self, Action};
use grantor_core::secret;
use grantor_core::store::Window;
use std::collections::HashMap;
use std::net::IpAddr;

/// Other organizations the switcher offers; a user may belong to a thousand.
const ORG_SWITCHER_MAX: usize = 20;
/// Items a console list shows; the management API pages through the rest.
pub(crate) const LIST_MAX: usize = 500;

pub fn router() -> Router<AppState> {
    let org = |rest: &str| format!("/console/orgs/{{org}}{rest}");
    Router::new()
        .route("/console", get(home))
        .route(&org(""), get(org_home))
        .route(&org("/apps"), get(apps::list))
        .route(&org("/apps/new"), get(wizard::start).post(wizard::step))
        .route(&org("/apps/{app}"), get(apps::show).post(apps::update))
        .route(
            &org("/apps/{app}/delete"),
            get(apps::confirm_delete).post(apps::delete),
        )
        .route(
            &org("/apps/{app}/secret"),
            get(apps::confirm_regenerate).post(apps::regenerate),
        )
        .route(&org("/added-apps"), get(added::list).post(added::add))
        .route(&org("/added-apps/new"), get(added::choose))
        .route(&org("/added-apps/{app}/remove"), post(added::remove))
        .route(
            &org("/resource-servers"),
            get(resource_servers::list).post(resource_servers::create),
        )
        .route(
            &org("/resource-servers/{id}"),
            get(resource_servers::show).post(resource_servers::update),
        )
        .route(
            &org("/api-tokens"),
            get(api_tokens::list).post(api_tokens::create),
        )
        .route(&org("/api-tokens/{id}/revoke"), post(api_tokens::revoke))
        .route(&org("/audit"), get(audit::list))
        .route(&org("/members"), get(members::list).post(members::invite))
        .route(&org("/members/{user}/role"), post(members::set_role))
        .route(&org("/members/{user}/remove"), post(members::remove))
        .route(&org("/invitations/{id}/withdraw"), post(members::withdraw))
}

/// What a role may use, from the policy module, so templates leave out the rest.
#[derive(Debug, Clone, Copy)]
pub struct Can {
    pub manage_apps: bool,
    pub manage_resource_servers: bool,
    pub manage_members: bool,
    pub regenerate_secrets: bool,
    pub add_apps: bool,
    pub view_audit: bool,
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
    ) -> Result<Self, Response> {
        let Some(current) = session::current(state, headers).await else {
            let back: String = url::form_urlencoded::byte_serialize(
                format!("/console/orgs/{org}/{section}").as_bytes(),
            )
            .collect();
            return Err(see_other(&format!("/login?return_to={back}")));
        };
        let caller = Caller::new(current.actor(), Some(source));
        let (user, here, others) = state
            .manager
            .console_frame(&caller, org, ORG_SWITCHER_MAX)
            .await
            .map_err(|e| PageError::Console(e).into_response())?;
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

    fn base(&self) -> String {
        self.nav.base()
    }

    /// The caller's key in the store of one-time forms.
    fn once_caller(&self) -> String {
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
        "members" | "invitations" => "members",
        _ => return None,
    })
}

/// A console page's request: the organization and section come from its path
/// (`/console/orgs/{org}/{section}/...`); rejected as [`Console::open`] would.
impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let not_found =
            || PageError::Console(ServiceError::NotFound("page".into())).into_response();
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
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let PageForm(form) =
            PageForm::from_request(Request::from_parts(parts, body), state).await?;
        if !csrf::verify(&state.csrf_key, &console.session, form.get("csrf")) {
            return Err(PageError::FormExpired(
                "This form is no longer valid (it may be from an earlier session). Go back, reload the page and try again.",
            )
            .into_response());
        }
        Ok(Self { console, form })
    }
}

/// `/console`: the first organization the user belongs to.
async fn home(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Fconsole");
    };
    let caller = Caller::new(current.actor(), Some(source));
    match state.manager.organizations(&caller, Window::first(1)).await {
        Ok(orgs) => match orgs.first() {
            Some(org) => see_other(&format!("/console/orgs/{}/apps", org.id)),
            None => PageError::Console(ServiceError::NotFound(
                "you belong to no organization yet: ask an owner for an invitation; the organization"
                    .into(),
            ))
            .into_response(),
        },
        Err(e) => PageError::Console(e).into_response(),
    }
}

async fn org_home(Path(org): Path<String>) -> Response {
    see_other(&format!("/console/orgs/{org}/apps"))
}

/// What a form shows after a refusal: each message beside the form field it is about, or
/// at the top of the form (field `""`) when the form has no such field.
#[derive(Debug, Default)]
pub struct FormErrors(Vec<(&'static str, String)>);

impl FormErrors {
    /// What to show beside `field` (`""`: at the top), every message about it in one.
    pub fn get(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .0
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for FormErrors {
    type Item = (&'static str, String);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A refusal a person can fix in the form belongs beside it (returned as the message to
/// show); anything else, a refusal for their role included, gets its own page.
fn form_message(e: ServiceError) -> Result<String, PageError> {
    Ok(form_refusals(e, |_| "")?.get("").unwrap_or_default())
}

/// Like [`form_message`], each reason beside the form field `field_of` finds for the name
/// `Manager` gives it (`""`: the top of the form).
pub(super) fn form_refusals(
    e: ServiceError,
    field_of: impl Fn(&str) -> &'static str,
) -> Result<FormErrors, PageError> {
    let mut shown = FormErrors::default();
    match e {
        ServiceError::InvalidFields(errors) => {
            for e in errors {
                shown.add(field_of(&e.field), sentence(&e.message));
            }
        }
        ServiceError::Invalid(_) | ServiceError::Conflict(_) => {
            shown.add("", sentence(&e.to_string()));
        }
        other => return Err(PageError::Console(other)),
    }
    Ok(shown)
}

/// The field map of a form whose `fields` are named as `Manager` names them; a refusal about
/// anything else goes on top of the form.
pub(super) fn named_as(fields: &'static [&'static str]) -> impl Fn(&str) -> &'static str {
    move |name| fields.iter().find(|f| **f == name).copied().unwrap_or("")
}

/// The form field of an app's setting, by the name `Manager` gives it.
fn app_field(name: &str) -> &'static str {
    match name {
        "name" => "name",
        "redirect_uris" | "post_logout_redirect_uris" => "redirect_uris",
        "scopes" => "scopes",
        "legacy_grants" => "legacy_grants",
        "access_token_ttl" => "access_token_ttl",
        _ => "",
    }
}

/// A fresh one-time key for a form that must act once.
fn new_once() -> String {
    secret::new_id("once_").unwrap_or_default()
}

/// How a one-time form's submission stands.
enum Once {
    /// The first: go ahead, then [`done`] (or [`release`] when refused).
    First(String),
    /// Submitted before, and what it made then (an app ID, a token id...).
    Done(String),
    /// Submitted before, and still being answered.
    Busy,
}

/// Claims a one-time form's key, so a double-submitted form (two clicks, a reload, the back
/// button) makes one app, one secret, one token or one invitation, not two.
async fn claim(state: &AppState, console: &Console, form: &Params) -> Result<Once, Response> {
    let Some(key) = form
        .get("once")
        .filter(|k| k.starts_with("once_") && k.len() <= 64)
    else {
        return Err(PageError::FormExpired(
            "This form is incomplete. Reload the page and try again.",
        )
        .into_response());
    };
    let caller = console.once_caller();
    let claimed = OnceKey::new(state, "console", &caller, key)
        .claim("console")
        .await
        .map_err(|e| PageError::Console(e.into()).into_response())?;
    Ok(match claimed {
        Claim::First => Once::First(key.to_string()),
        Claim::InProgress { .. } => Once::Busy,
        Claim::Answered { answer, .. } => Once::Done(
            answer
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .unwrap_or_default(),
        ),
    })
}

/// Records what a one-time form made, so a second submission can point to it.
async fn done(state: &AppState, console: &Console, key: &str, made: &str) {
    let caller = console.once_caller();
    OnceKey::new(state, "console", &caller, key)
        .finish(200, made.as_bytes())
        .await;
}

/// Frees a one-time form's key after a refusal, so the corrected form can be sent again.
async fn release(state: &AppState, console: &Console, key: &str) {
    let caller = console.once_caller();
    OnceKey::new(state, "console", &caller, key).release().await;
}

/// A Unix time as people read it, in UTC: `2026-11-22 18:56 UTC`.
pub fn when(at: i64) -> String {
    // Days to civil date (Howard Hinnant's algorithm), to avoid a date crate for one format.
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// The lines of a textarea, trimmed, without blank ones.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_795_200_000), "2026-11-20 18:40 UTC");
        assert_eq!(when(951_782_400), "2000-02-29 00:00 UTC");
    }

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
