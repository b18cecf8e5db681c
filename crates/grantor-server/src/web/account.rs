//! `/account`: the user's organizations and the approvals they gave, which they can revoke,
//! and their password, which they can change.

use super::pages::{AccountPage, ApprovalRow, PasswordForm};
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
use grantor_core::model::Caller;
use std::net::IpAddr;

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
    page(&state, &current, source, StatusCode::OK, form).await
}

/// The account page, with the password form in the state `form`.
async fn page(
    state: &AppState,
    current: &Current,
    source: IpAddr,
    status: StatusCode,
    password: PasswordForm,
) -> Response {
    let (user, memberships, consents) = match state
        .manager
        .account(&Caller::new(current.actor(), Some(source)))
        .await
    {
        Ok(account) => account,
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
        email: user.email,
        memberships,
        approvals,
        password,
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
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return PageError::FormExpired("Reload the page and try again.").into_response();
    }
    let (Some(client_id), Some(org_id)) = (form.get("client_id"), form.get("org_id")) else {
        return PageError::BadRequest {
            title: "Bad request",
            message: "Which approval to revoke was not said.",
        }
        .into_response();
    };
    let done = state
        .manager
        .revoke_approval(
            &Caller::new(current.actor(), Some(source)),
            client_id,
            org_id,
        )
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
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return PageError::FormExpired("Reload the page and try again.").into_response();
    }
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
        )
        .await;
    }
    let caller = Caller::new(current.actor(), Some(source));
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
    page(&state, &current, source, status, refused).await
}
