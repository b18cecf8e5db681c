//! Organizations and their resource servers.

use super::{ApiCaller, ListQuery, Page, paginate};
use crate::AppState;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::manage::ResourceServerChanges;
use grantor_core::model::{Organization, ResourceServer, ScopeDefinition};
use serde::Deserialize;

pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    page: ListQuery,
) -> Result<Json<Page<Organization>>, Problem> {
    let orgs = state.manager.organizations(&actor).await?;
    Ok(Json(paginate(orgs, &page)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiJson(body): ApiJson<NewOrganization>,
) -> Result<(StatusCode, Json<Organization>), Problem> {
    let org = state
        .manager
        .create_organization(&actor, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
) -> Result<Json<Organization>, Problem> {
    Ok(Json(
        state.manager.visible_organization(&actor, &org).await?,
    ))
}

pub async fn resource_servers(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
    page: ListQuery,
) -> Result<Json<Page<ResourceServer>>, Problem> {
    let servers = state.manager.resource_servers(&actor, &org).await?;
    Ok(Json(paginate(servers, &page)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResourceServer {
    identifier: String,
    name: String,
    scopes: Vec<ScopeDefinition>,
}

pub async fn create_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewResourceServer>,
) -> Result<(StatusCode, Json<ResourceServer>), Problem> {
    let rs = state
        .manager
        .create_resource_server(&actor, &org, &body.identifier, &body.name, body.scopes)
        .await?;
    Ok((StatusCode::CREATED, Json(rs)))
}

pub async fn show_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<ResourceServer>, Problem> {
    Ok(Json(
        state.manager.resource_server(&actor, &org, &id).await?,
    ))
}

pub async fn update_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path((org, id)): Path<(String, String)>,
    ApiJson(changes): ApiJson<ResourceServerChanges>,
) -> Result<Json<ResourceServer>, Problem> {
    let rs = state
        .manager
        .update_resource_server(&actor, &org, &id, changes)
        .await?;
    Ok(Json(rs))
}

pub async fn delete_resource_server(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    state
        .manager
        .delete_resource_server(&actor, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
