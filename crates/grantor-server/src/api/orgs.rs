//! Organizations and their resource servers.

use super::wire::{
    self, Organization, OrganizationChanges, ResourceServer, ResourceServerChanges, ScopeDefinition,
};
use super::{ApiCaller, IdempotencyKey, ListQuery, OrgPath, Page, page, paginate};
use crate::AppState;
use crate::error::ApiErrors;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A resource server in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResourceServerPath {
    /// The organization's id or name.
    org: String,
    /// The resource server's id.
    id: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "organizations",
    params(ListQuery),
    responses((status = OK, description = "The organizations the caller can see", body = Page<Organization>), ApiErrors)
)]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    page: ListQuery,
) -> Result<Json<Page<Organization>>, Problem> {
    let orgs = state.manager.organizations(&actor, page.window()).await?;
    Ok(Json(self::page(wire::all(orgs), &page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "organizations",
    params(IdempotencyKey),
    request_body = NewOrganization,
    responses((status = CREATED, description = "Created (platform admins)", body = Organization), ApiErrors)
)]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiJson(body): ApiJson<NewOrganization>,
) -> Result<(StatusCode, Json<Organization>), Problem> {
    let org = state
        .manager
        .create_organization(&actor, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}",
    tag = "organizations",
    params(OrgPath),
    responses((status = OK, body = Organization), ApiErrors)
)]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<Json<Organization>, Problem> {
    Ok(Json(
        state
            .manager
            .visible_organization(&actor, &org)
            .await?
            .into(),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}",
    tag = "organizations",
    params(OrgPath, IdempotencyKey),
    request_body = OrganizationChanges,
    responses((status = OK, description = "Changed (owners)", body = Organization), ApiErrors)
)]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(changes): ApiJson<OrganizationChanges>,
) -> Result<Json<Organization>, Problem> {
    let org = match changes.require_second_factor {
        Some(required) => {
            state
                .manager
                .set_require_second_factor(&actor, &org, required)
                .await?
        }
        None => state.manager.visible_organization(&actor, &org).await?,
    };
    Ok(Json(org.into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/resource-servers",
    tag = "resource servers",
    params(OrgPath, ListQuery),
    responses((status = OK, body = Page<ResourceServer>), ApiErrors)
)]
pub async fn resource_servers(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    page: ListQuery,
) -> Result<Json<Page<ResourceServer>>, Problem> {
    let servers = state.manager.resource_servers(&actor, &org).await?;
    Ok(Json(paginate(wire::all(servers), &page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResourceServer {
    identifier: String,
    name: String,
    scopes: Vec<ScopeDefinition>,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/resource-servers",
    tag = "resource servers",
    params(OrgPath, IdempotencyKey),
    request_body = NewResourceServer,
    responses((status = CREATED, body = ResourceServer), ApiErrors)
)]
pub async fn create_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<NewResourceServer>,
) -> Result<(StatusCode, Json<ResourceServer>), Problem> {
    let rs = state
        .manager
        .create_resource_server(
            &actor,
            &org,
            &body.identifier,
            &body.name,
            wire::all(body.scopes),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(rs.into())))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/resource-servers/{id}",
    tag = "resource servers",
    params(ResourceServerPath),
    responses((status = OK, body = ResourceServer), ApiErrors)
)]
pub async fn show_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(ResourceServerPath { org, id }): Path<ResourceServerPath>,
) -> Result<Json<ResourceServer>, Problem> {
    Ok(Json(
        state
            .manager
            .resource_server(&actor, &org, &id)
            .await?
            .into(),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/resource-servers/{id}",
    tag = "resource servers",
    params(ResourceServerPath, IdempotencyKey),
    request_body = ResourceServerChanges,
    responses((status = OK, body = ResourceServer), ApiErrors)
)]
pub async fn update_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(ResourceServerPath { org, id }): Path<ResourceServerPath>,
    ApiJson(changes): ApiJson<ResourceServerChanges>,
) -> Result<Json<ResourceServer>, Problem> {
    let rs = state
        .manager
        .update_resource_server(&actor, &org, &id, changes.into())
        .await?;
    Ok(Json(rs.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/resource-servers/{id}",
    tag = "resource servers",
    params(ResourceServerPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Deleted"), ApiErrors)
)]
pub async fn delete_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(ResourceServerPath { org, id }): Path<ResourceServerPath>,
) -> Result<StatusCode, Problem> {
    state
        .manager
        .delete_resource_server(&actor, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
