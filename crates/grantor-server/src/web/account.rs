//! `/account`: the user's organizations and the approvals they gave, which they can revoke.

use super::pages::{AccountPage, ApprovalRow};
use super::session;
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::PageError;
use crate::input::PageForm;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use grantor_core::model::Caller;

pub async fn show(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
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
    };
    render(StatusCode::OK, &page)
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
