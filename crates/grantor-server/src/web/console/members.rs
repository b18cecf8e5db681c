//! Members (owners manage them): the list, roles, removal, and invitations. An invitation is
//! a single-use link that expires, shown once for the owner to pass on; `/invitations/...`
//! lets the invited person join, with a new account or by signing in to theirs.

use super::LIST_MAX;
use super::{
    Console, ConsoleForm, FormErrors, Nav, Once, claim, done, form_message, form_refusals,
    named_as, new_once, release, when,
};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::{PageForm, PageQuery};
use crate::web::{COPY_SCRIPT, csrf, login, render, see_other, session};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::manage::{Acceptance, InvitationView};
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

async fn members_page(state: &AppState, c: Console, shown: Shown) -> Response {
    let members = match state
        .manager
        .members(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await
    {
        Ok(members) => members,
        Err(e) => return PageError::Console(e).into_response(),
    };
    // Only owners see invitations; others are not asked, so nothing is refused and audited.
    let invitations: Vec<Invitation> = if c.nav.can.manage_members {
        match state.manager.invitations(&c.caller, &c.nav.org_id).await {
            Ok(found) => found,
            Err(e) => return PageError::Console(e).into_response(),
        }
    } else {
        Vec::new()
    };
    let now = state.provider.clock.now();
    let status = if !shown.errors.is_empty() || shown.list_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if shown.new_link.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    render(
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
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Response {
    let notice = match query.get("done") {
        Some("role") => Some("The role was changed."),
        Some("removed") => Some("The member was removed from the organization."),
        Some("withdrawn") => Some("The invitation was withdrawn: its link no longer works."),
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
) -> Response {
    let email = form.get("email").unwrap_or_default().trim().to_string();
    let role = form.get("role").unwrap_or_default();
    let key = match claim(&state, &c, &form).await {
        Ok(Once::First(key)) => key,
        Ok(Once::Done(_) | Once::Busy) => {
            return see_other(&format!("{}/members?done=again", c.base()));
        }
        Err(r) => return r,
    };
    match state
        .manager
        .invite_member(&c.caller, &c.nav.org_id, &email, role)
        .await
    {
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
            match form_refusals(e, named_as(&["email", "role"])) {
                Ok(errors) => {
                    let shown = Shown {
                        email,
                        role: role.parse().unwrap_or(Role::Member),
                        errors,
                        ..Shown::plain(None)
                    };
                    members_page(&state, c, shown).await
                }
                Err(r) => r.into_response(),
            }
        }
    }
}

/// A change to the list that was refused: why, above the list.
async fn list_refused(state: &AppState, c: Console, e: ServiceError) -> Response {
    match form_message(e) {
        Ok(message) => {
            let shown = Shown {
                list_error: Some(message),
                ..Shown::plain(None)
            };
            members_page(state, c, shown).await
        }
        Err(r) => r.into_response(),
    }
}

pub async fn set_role(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Response {
    let role = form.get("role").unwrap_or_default();
    match state
        .manager
        .set_member_role(&c.caller, &c.nav.org_id, &user, role)
        .await
    {
        Ok(_) => see_other(&format!("{}/members?done=role", c.base())),
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
) -> Response {
    match state
        .manager
        .remove_member(&c.caller, &c.nav.org_id, &user)
        .await
    {
        Ok(()) => see_other(&format!("{}/members?done=removed", c.base())),
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
) -> Response {
    match state
        .manager
        .withdraw_invitation(&c.caller, &c.nav.org_id, &id)
        .await
    {
        Ok(()) | Err(ServiceError::NotFound(_)) => {
            see_other(&format!("{}/members?done=withdrawn", c.base()))
        }
        Err(e) => PageError::Console(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/invitation.html")]
pub struct InvitationPage {
    pub csrf: String,
    pub token: String,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    /// The invited person has an account: they accept by signing in to it.
    pub existing: bool,
    /// Signed in as the invited user: one click joins.
    pub signed_in_as_invited: bool,
    /// Signed in, but as somebody else.
    pub signed_in_as_other: bool,
    pub name: String,
    /// Beside the new account's name or password, or on top.
    pub errors: FormErrors,
    pub login_link: String,
}

/// The invitation page; a new person's form is bound to the browser cookie, as the sign-in
/// form is, since they have no session yet.
async fn invitation_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    view: InvitationView,
    name: String,
    errors: FormErrors,
) -> Response {
    let current = session::current(state, headers).await;
    let signed_in_as_invited = matches!(
        (&current, &view.existing_user),
        (Some(c), Some(invited)) if &c.user.user_id == invited
    );
    let (binding, new_cookie) = match &current {
        Some(c) => (c.id_hash.clone(), None),
        None => login::browser_binding(state, headers),
    };
    let back: String =
        url::form_urlencoded::byte_serialize(format!("/invitations/{token}").as_bytes()).collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = InvitationPage {
        csrf: csrf::token(&state.csrf_key, &binding),
        token: token.to_string(),
        org_name: view.org_name,
        email: view.invitation.email,
        role: view.invitation.role,
        existing: view.existing_user.is_some(),
        signed_in_as_invited,
        signed_in_as_other: current.is_some() && !signed_in_as_invited,
        name,
        errors,
        login_link: format!("/login?return_to={back}"),
    };
    let mut response = render(status, &page);
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn show_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match state.manager.invitation(&token).await {
        Ok(view) => {
            let blank = FormErrors::default();
            invitation_page(&state, &headers, &token, view, String::new(), blank).await
        }
        Err(e) => gone(e),
    }
}

/// An invitation that cannot be used: said plainly, on its own page.
fn gone(e: ServiceError) -> Response {
    match e {
        ServiceError::Invalid(message) | ServiceError::Forbidden(message) => {
            crate::web::pages::error_page(
                StatusCode::GONE,
                "This invitation cannot be used",
                &crate::error::sentence(&message),
            )
        }
        other => PageError::Console(other).into_response(),
    }
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    Path(token): Path<String>,
    PageForm(form): PageForm,
) -> Response {
    let view = match state.manager.invitation(&token).await {
        Ok(view) => view,
        Err(e) => return gone(e),
    };
    let current = session::current(&state, &headers).await;
    let binding = match &current {
        Some(c) => c.id_hash.as_str(),
        None => session::cookie(&state, &headers, session::Cookie::Browser).unwrap_or_default(),
    };
    if !csrf::verify(&state.csrf_key, binding, form.get("csrf")) {
        return PageError::FormExpired("This form expired. Open the invitation link again.")
            .into_response();
    }
    let org_id = view.invitation.org_id.clone();
    let name = form.get("name").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default();
    let how = match (&current, &view.existing_user) {
        (Some(c), Some(_)) => Acceptance::SignedIn {
            user_id: &c.user.user_id,
        },
        _ => {
            let mut errors = FormErrors::default();
            if name.is_empty() {
                errors.add("name", "Enter your name.");
            }
            if password != form.get("password_again").unwrap_or_default() {
                errors.add(
                    "password_again",
                    "The two passwords differ: type the same one twice.",
                );
            }
            if !errors.is_empty() {
                return invitation_page(&state, &headers, &token, view, name, errors).await;
            }
            Acceptance::NewUser {
                name: &name,
                password,
            }
        }
    };
    match state
        .manager
        .accept_invitation(&token, how, Some(source.to_string()))
        .await
    {
        Ok(_) if current.is_some() => see_other(&format!("/console/orgs/{org_id}/apps")),
        // A new account signs in like any other, so the password is proven once.
        Ok(_) => {
            let back: String = url::form_urlencoded::byte_serialize(
                format!("/console/orgs/{org_id}/apps").as_bytes(),
            )
            .collect();
            see_other(&format!("/login?return_to={back}"))
        }
        // The invited email is not a field of the new-account form: its refusals go on top.
        Err(
            e @ (ServiceError::InvalidFields(_)
            | ServiceError::Invalid(_)
            | ServiceError::Conflict(_)),
        ) => match form_refusals(e, named_as(&["name", "password"])) {
            Ok(errors) => invitation_page(&state, &headers, &token, view, name, errors).await,
            Err(r) => r.into_response(),
        },
        Err(e) => gone(e),
    }
}
