//! `/account`: the user's organizations and the approvals they gave, which they can revoke,
//! their password, which they can change, and their sessions, which they can sign out.

use super::console::view::when;
use super::pages::{AccountPage, ApprovalRow, PasswordForm, SessionRow};
use super::session::{self, Current};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{PageError, sentence};
use crate::input::{PageForm, PageQuery};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::manage::EmailLinkError;
use std::net::IpAddr;

/// Where a signed-out browser posting here is sent.
const SIGN_IN: &str = "/login?return_to=%2Faccount";

pub async fn show(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
    let form = PasswordForm {
        changed: query.get("password") == Some("changed"),
        ..PasswordForm::default()
    };
    let ended = query.get("ended").and_then(|n| n.parse().ok());
    let verify = match query.get("verify") {
        Some("sent") => {
            Some("A verification link is on its way to your address. It works for a day.")
        }
        Some("throttled") => {
            Some("Several links were sent within the hour. Use the latest one, or try again later.")
        }
        Some("verified") => Some("Your email is verified already."),
        _ => None,
    };
    page(
        &state,
        &current,
        source,
        StatusCode::OK,
        form,
        ended,
        verify,
    )
    .await
}

/// The account page, with the password form in the state `form`.
async fn page(
    state: &AppState,
    current: &Current,
    source: IpAddr,
    status: StatusCode,
    password: PasswordForm,
    ended: Option<u64>,
    verify_notice: Option<&'static str>,
) -> Response {
    let caller = current.caller(source);
    let loaded = async {
        let account = state.manager.account(&caller).await?;
        let sessions = state.manager.sessions(&caller, &current.id_hash).await?;
        Ok::<_, ServiceError>((account, sessions))
    };
    let ((user, memberships, consents), sessions) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => {
            return PageError::Unavailable {
                message: "Your account could not be loaded.",
                detail: e.to_string(),
            }
            .into_response();
        }
    };
    let approvals = consents
        .into_iter()
        .filter(|c| !c.consent.approved.is_empty())
        .map(|c| ApprovalRow {
            app_name: c.app_name,
            org_name: c.org_name,
            client_id: c.consent.client_id,
            org_id: c.consent.org_id,
            scopes: c.consent.approved.to_string(),
        })
        .collect();
    let page = AccountPage {
        csrf: csrf::token(&state.csrf_key, &current.id_hash),
        email_verified: user.email_verified_at.is_some(),
        mail_on: state.mailer.is_on(),
        verify_notice,
        email: user.email,
        memberships,
        approvals,
        password,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                user_agent: (s.browser != s.user_agent && !s.user_agent.is_empty())
                    .then_some(s.user_agent),
                handle: s.handle,
                browser: s.browser,
                address: s.address,
                signed_in: when(s.signed_in_at),
                last_seen: when(s.last_seen_at),
                current: s.current,
            })
            .collect(),
        ended,
    };
    render(status, &page)
}

/// Forgets an approval and revokes every token issued under it.
pub async fn revoke(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, SIGN_IN).await {
        Ok(current) => current,
        Err(answer) => return answer,
    };
    let (Some(client_id), Some(org_id)) = (form.get("client_id"), form.get("org_id")) else {
        return PageError::BadRequest {
            title: "Bad request",
            message: "Which approval to revoke was not said.",
        }
        .into_response();
    };
    let done = state
        .manager
        .revoke_approval(&current.caller(source), client_id, org_id)
        .await;
    match done {
        Ok(()) => see_other("/account"),
        Err(e) => PageError::Unavailable {
            message: "The approval could not be revoked.",
            detail: e.to_string(),
        }
        .into_response(),
    }
}

/// Changes the password: the current one, then the new one twice. Every other session of the
/// user ends; this one stays.
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, SIGN_IN).await {
        Ok(current) => current,
        Err(answer) => return answer,
    };
    let given = |name| form.get(name).unwrap_or_default();
    let (old, new) = (given("current_password"), given("new_password"));
    let mut refused = PasswordForm::default();
    if old.is_empty() {
        refused.current_error = Some("Enter your current password.".into());
    }
    if new != given("confirm_password") {
        refused.confirm_error = Some("The two new passwords differ.".into());
    }
    if refused.current_error.is_some() || refused.confirm_error.is_some() {
        return page(
            &state,
            &current,
            source,
            StatusCode::UNPROCESSABLE_ENTITY,
            refused,
            None,
            None,
        )
        .await;
    }
    let caller = current.caller(source);
    let passwords = &state.provider.passwords;
    let changed = state
        .manager
        .change_password(&caller, passwords, old, new, &current.id_hash)
        .await;
    let status = match changed {
        Ok(()) => return see_other("/account?password=changed"),
        Err(ServiceError::InvalidFields(errors)) => {
            for e in errors {
                let message = Some(sentence(&e.message));
                match e.field.as_str() {
                    "current_password" => refused.current_error = message,
                    _ => refused.new_error = message,
                }
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(ServiceError::Invalid(why)) => {
            refused.new_error = Some(sentence(&why));
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(e) => return PageError::Console(e).into_response(),
    };
    page(&state, &current, source, status, refused, None, None).await
}

/// Signs out one of the user's other sessions, named by its handle. A handle that is not one
/// of theirs ends nothing and gets the same answer.
pub async fn end_session(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, SIGN_IN).await {
        Ok(current) => current,
        Err(answer) => return answer,
    };
    let handle = form.get("session").unwrap_or_default();
    let caller = current.caller(source);
    match state
        .manager
        .end_session(&caller, handle, &current.id_hash)
        .await
    {
        Ok(()) => see_other("/account#sessions-heading"),
        Err(e) => PageError::Console(e).into_response(),
    }
}

/// Signs out every session of the user but this one.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, SIGN_IN).await {
        Ok(current) => current,
        Err(answer) => return answer,
    };
    let caller = current.caller(source);
    match state
        .manager
        .end_other_sessions(&caller, &current.id_hash)
        .await
    {
        Ok(ended) => see_other(&format!("/account?ended={ended}#sessions-heading")),
        Err(e) => PageError::Console(e).into_response(),
    }
}

/// Mails the signed-in user a new link to verify their address (three an hour).
pub async fn send_verification(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, SIGN_IN).await {
        Ok(current) => current,
        Err(answer) => return answer,
    };
    if !state.mailer.is_on() {
        return see_other("/account");
    }
    let caller = current.caller(source);
    match state.manager.request_email_verification(&caller).await {
        Ok(Some((user, token))) => {
            let mail = super::verify_email::verification_mail(&state, &user, &token);
            state.mailer.send(mail);
            see_other("/account?verify=sent")
        }
        Ok(None) => see_other("/account?verify=verified"),
        Err(EmailLinkError::Throttled(_)) => see_other("/account?verify=throttled"),
        Err(EmailLinkError::Service(e)) => PageError::Console(e).into_response(),
    }
}
