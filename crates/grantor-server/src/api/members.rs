//! Members of an organization and their roles.

use super::{ApiCaller, ListQuery, Page, paginate};
use crate::AppState;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::model::{Membership, Role};
use serde::Deserialize;

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
    page: ListQuery,
) -> Result<Json<Page<Membership>>, Problem> {
    let members = state.manager.members(&actor, &org).await?;
    Ok(Json(paginate(members, &page)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The user's email.
    user: String,
    role: Role,
}

pub async fn add(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<Membership>), Problem> {
    let member = state
        .manager
        .add_member(&actor, &org, &body.user, body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: Role,
}

pub async fn set_role(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path((org, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Json<Membership>, Problem> {
    let member = state
        .manager
        .set_member_role(&actor, &org, &user, body.role)
        .await?;
    Ok(Json(member))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path((org, user)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    state.manager.remove_member(&actor, &org, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
