//! Members (owners manage them): the list, roles, removal, and invitations. An invitation is
//! a single-use link that expires, shown once for the owner to pass on; the public page it
//! opens is `web/invitation.rs`.

use super::forms::{
    FormErrors, Once, claim, done, form_message, form_refusals, named_as, new_once, release,
};
use super::frame::{Console, ConsoleForm, Nav};
use super::view::{LIST_MAX, when};
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::{COPY_SCRIPT, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::ServiceError;
use grantor_core::manage::{member_fields, role_field};
use grantor_core::model::{Invitation, Membership, Role};
use grantor_core::store::Window;

const ROLES: [Role; 3] = [Role::Member, Role::Developer, Role::Owner];

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "console/members.html")]
pub struct MembersPage {
    pub nav: Nav,
    pub members: Vec<Membership>,
    pub invitations: Vec<InvitationRow>,
    pub roles: [Role; 3],
    pub invite_email: String,
    pub invite_role: Role,
    pub once: String,
    /// Refusals of the invitation form, beside its email and role fields.
    pub errors: FormErrors,
    /// A refused change of role or removal, shown above the list.
    pub list_error: Option<String>,
    /// The link of an invitation just made, shown this once.
    pub new_link: Option<String>,
    pub notice: Option<&'static str>,
    pub copy_script: &'static str,
    /// For owners: which members have a second factor, in the order of `members`.
    pub factors: Vec<bool>,
    /// Whether the organization requires a second factor.
    pub require_second_factor: bool,
    /// Whether this server can mail invitations.
    pub mail_on: bool,
}

impl MembersPage {
    /// The second-factor cell of the `i`th member (from 0).
    pub fn factor_of(&self, i: &usize) -> &'static str {
        match self.factors.get(*i) {
            Some(true) => "Yes",
            Some(false) => "No",
            None => "",
        }
    }
}

struct Shown {
    email: String,
    role: Role,
    errors: FormErrors,
    list_error: Option<String>,
    new_link: Option<String>,
    notice: Option<&'static str>,
}

impl Shown {
    fn plain(notice: Option<&'static str>) -> Self {
        Self {
            email: String::new(),
            role: Role::Member,
            errors: FormErrors::default(),
            list_error: None,
            new_link: None,
            notice,
        }
    }
}

async fn members_page(state: &AppState, c: Console, shown: Shown) -> Result<Response, PageError> {
    let members = state
        .manager
        .members(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?;
    // Only owners see invitations; others are not asked, so nothing is refused and audited.
    let invitations: Vec<Invitation> = if c.nav.can.manage_members {
        state.manager.invitations(&c.caller, &c.nav.org_id).await?
    } else {
        Vec::new()
    };
    let factors = state
        .manager
        .members_second_factors(&c.caller, &members)
        .await?
        .unwrap_or_default();
    let org = state
        .manager
        .visible_organization(&c.caller, &c.nav.org_id)
        .await?;
    let now = state.provider.clock.now();
    let status = if !shown.errors.is_empty() || shown.list_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if shown.new_link.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &MembersPage {
            nav: c.nav,
            members,
            invitations: invitations
                .into_iter()
                .filter(|i| i.expires_at > now)
                .map(|i| InvitationRow {
                    id: i.id,
                    email: i.email,
                    role: i.role,
                    expires: when(i.expires_at),
                })
                .collect(),
            roles: ROLES,
            invite_email: shown.email,
            invite_role: shown.role,
            once: new_once(),
            errors: shown.errors,
            list_error: shown.list_error,
            new_link: shown.new_link,
            notice: shown.notice,
            copy_script: COPY_SCRIPT,
            factors,
            require_second_factor: org.require_second_factor,
            mail_on: state.mailer.is_on(),
        },
    ))
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice = match query.get("done") {
        Some("role") => Some("The role was changed."),
        Some("removed") => Some("The member was removed from the organization."),
        Some("withdrawn") => Some("The invitation was withdrawn: its link no longer works."),
        Some("mailed") => Some("The invitation was mailed. Its link works once, for 7 days."),
        Some("required") => Some(
            "Members now need a second factor to sign in to this organization's apps, use its console and exchange its API tokens.",
        ),
        Some("optional") => Some("A second factor is no longer required."),
        Some("again") => Some(
            "This form was already sent, and the invitation was made then. Its link was shown once; if you missed it, withdraw it and invite again.",
        ),
        _ => None,
    };
    members_page(&state, c, Shown::plain(notice)).await
}

pub async fn invite(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let email = form.get("email").unwrap_or_default().trim().to_string();
    let role = form.get("role").unwrap_or_default();
    let key = match claim(&state, &c, &form).await? {
        Once::First(key) => key,
        Once::Done(_) | Once::Busy => {
            return Ok(see_other(&format!("{}/members?done=again", c.base())));
        }
    };
    let send_email = form.get("send_email") == Some("yes") && state.mailer.is_on();
    let invited = match member_fields("email", &email, role) {
        Ok((email, role)) => {
            let m = &state.manager;
            m.invite(&c.caller, &c.nav.org_id, &email, role, send_email)
                .await
        }
        Err(e) => Err(e),
    };
    match invited {
        Ok((invitation, token)) if send_email => {
            done(&state, &c, &key, &invitation.id).await;
            let mail = crate::web::verify_email::invitation_mail(
                &state,
                &invitation,
                &c.nav.org_name,
                &token,
            );
            state.mailer.send(mail);
            Ok(see_other(&format!("{}/members?done=mailed", c.base())))
        }
        Ok((invitation, token)) => {
            done(&state, &c, &key, &invitation.id).await;
            let link = format!("{}/invitations/{token}", state.provider.settings.issuer);
            let shown = Shown {
                new_link: Some(link),
                ..Shown::plain(None)
            };
            members_page(&state, c, shown).await
        }
        Err(e) => {
            release(&state, &c, &key).await;
            let shown = Shown {
                email,
                role: role.parse().unwrap_or(Role::Member),
                errors: form_refusals(e, named_as(&["email", "role"]))?,
                ..Shown::plain(None)
            };
            members_page(&state, c, shown).await
        }
    }
}

/// A change to the list that was refused: why, above the list.
async fn list_refused(
    state: &AppState,
    c: Console,
    e: ServiceError,
) -> Result<Response, PageError> {
    let shown = Shown {
        list_error: Some(form_message(e)?),
        ..Shown::plain(None)
    };
    members_page(state, c, shown).await
}

pub async fn set_role(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let changed = match role_field(form.get("role").unwrap_or_default()) {
        Ok(role) => {
            let m = &state.manager;
            m.set_member_role(&c.caller, &c.nav.org_id, &user, role)
                .await
        }
        Err(e) => Err(e),
    };
    match changed {
        Ok(_) => Ok(see_other(&format!("{}/members?done=role", c.base()))),
        Err(e) => list_refused(&state, c, e).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    ConsoleForm {
        console: c,
        form: _,
    }: ConsoleForm,
) -> Result<Response, PageError> {
    match state
        .manager
        .remove_member(&c.caller, &c.nav.org_id, &user)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{}/members?done=removed", c.base()))),
        Err(e) => list_refused(&state, c, e).await,
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ConsoleForm {
        console: c,
        form: _,
    }: ConsoleForm,
) -> Result<Response, PageError> {
    match state
        .manager
        .withdraw_invitation(&c.caller, &c.nav.org_id, &id)
        .await
    {
        Ok(()) | Err(ServiceError::NotFound(_)) => {
            Ok(see_other(&format!("{}/members?done=withdrawn", c.base())))
        }
        Err(e) => Err(e.into()),
    }
}

/// Turns the organization's "require a second factor" setting on or off (owners).
pub async fn require_second_factor(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let required = form.get("required") == Some("yes");
    match state
        .manager
        .set_require_second_factor(&c.caller, &c.nav.org_id, required)
        .await
    {
        Ok(_) => {
            let done = if required { "required" } else { "optional" };
            Ok(see_other(&format!("{}/members?done={done}", c.base())))
        }
        Err(e) => list_refused(&state, c, e).await,
    }
}
