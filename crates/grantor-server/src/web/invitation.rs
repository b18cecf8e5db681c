//! `/invitations/{token}`: the page an invitation link opens, where the invited person joins
//! the organization with a new account or by signing in to theirs. Public: the link is the
//! credential, until it is used or expires.

use super::console::forms::{FormErrors, form_refusals, named_as};
use super::{csrf, login, render, see_other, session};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::PageForm;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::manage::{Acceptance, InvitationView};
use grantor_core::model::Role;
use grantor_core::store::UserStore;

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

pub async fn show(
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

pub async fn accept(
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
        // A new account signs in like any other, so the password is proven once. An
        // invitation handed over as a link proves no address: a link is mailed to it.
        Ok(user_id) => {
            if !view.invitation.mailed
                && let Ok(Some(user)) = state.store.user(&user_id).await
            {
                let caller = grantor_core::model::Caller::new(
                    grantor_core::model::Actor::User {
                        user_id: user.id.clone(),
                        platform_admin: false,
                        token: None,
                    },
                    Some(source),
                );
                crate::web::verify_email::send_verification(&state, &caller, &user).await;
            }
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
