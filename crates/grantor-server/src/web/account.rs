//! `/account`: the user's organizations and the approvals they gave, which they can revoke.

use super::pages::{AccountPage, ApprovalRow, error_page};
use super::session;
use super::{PageForm, csrf, render, see_other};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grantor_core::store::{Directory, GrantStore};

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
    let user_id = &current.user.user_id;
    let loaded = async {
        let user = state.store.user(user_id).await?;
        let memberships = state.store.memberships_of_user(user_id).await?;
        let consents = state.store.consents_of_user(user_id).await?;
        Ok::<_, grantor_core::StoreError>((user, memberships, consents))
    }
    .await;
    let Ok((Some(user), memberships, consents)) = loaded else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "Your account could not be loaded.",
        );
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
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, form: PageForm) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other("/login?return_to=%2Faccount");
    };
    if !csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "Reload the page and try again.",
        );
    }
    let (Some(client_id), Some(org_id)) = (form.get("client_id"), form.get("org_id")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Which approval to revoke was not said.",
        );
    };
    let user_id = &current.user.user_id;
    let now = state.provider.clock.now();
    let done = async {
        state
            .store
            .delete_consent(user_id, client_id, org_id)
            .await?;
        state
            .store
            .revoke_grants_of(user_id, client_id, org_id, now)
            .await
    }
    .await;
    match done {
        Ok(()) => see_other("/account"),
        Err(e) => {
            tracing::error!(error = %e, "revoking an approval failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The approval could not be revoked.",
            )
        }
    }
}
