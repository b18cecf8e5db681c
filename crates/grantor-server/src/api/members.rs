//! Members of an organization and their roles.

use super::wire::{self, Membership, Role};
use super::{ApiCaller, IdempotencyKey, ListQuery, OrgPath, Page, page};
use crate::AppState;
use crate::error::ApiErrors;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::manage::{member_fields, role_field};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A member in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// The organization's id or name.
    org: String,
    /// The user's id or email.
    user: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    tag = "members",
    params(OrgPath, ListQuery),
    responses((status = OK, body = Page<Membership>), ApiErrors)
)]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    page: ListQuery,
) -> Result<Json<Page<Membership>>, Problem> {
    let members = state.manager.members(&actor, &org, page.window()).await?;
    let factors = state
        .manager
        .members_second_factors(&actor, &members)
        .await?;
    let mut listed: Vec<Membership> = wire::all(members);
    if let Some(factors) = factors {
        for (member, has) in listed.iter_mut().zip(factors) {
            member.second_factor = Some(has);
        }
    }
    Ok(Json(self::page(listed, &page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The user's email.
    user: String,
    /// Checked with `user` by `Manager`, so a 422 names both when both are wrong.
    #[schema(value_type = Role)]
    role: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/members",
    tag = "members",
    params(OrgPath, IdempotencyKey),
    request_body = NewMember,
    responses((status = CREATED, body = Membership), ApiErrors)
)]
pub async fn add(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<Membership>), Problem> {
    let (user, role) = member_fields("user", &body.user, &body.role)?;
    let member = state.manager.add_member(&actor, &org, &user, role).await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = Role)]
    role: String,
}

#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/members/{user}",
    tag = "members",
    params(MemberPath, IdempotencyKey),
    request_body = RoleChange,
    responses((status = OK, body = Membership), ApiErrors)
)]
pub async fn set_role(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(MemberPath { org, user }): Path<MemberPath>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Json<Membership>, Problem> {
    let role = role_field(&body.role)?;
    let member = state
        .manager
        .set_member_role(&actor, &org, &user, role)
        .await?;
    Ok(Json(member.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{user}",
    tag = "members",
    params(MemberPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Removed"), ApiErrors)
)]
pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(MemberPath { org, user }): Path<MemberPath>,
) -> Result<StatusCode, Problem> {
    state.manager.remove_member(&actor, &org, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
