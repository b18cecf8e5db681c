//! An organization's apps, their secrets, and the apps it added.

use super::wire::{
    self, AppChanges, AppKeysBody, AppType, AppView, LegacyGrant, OptInGrant, OrgAccessGrant,
};
use super::{ApiCaller, IdempotencyKey, ListQuery, OrgPath, Page, page};
use crate::AppState;
use crate::error::ApiErrors;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::manage::NewApp;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// An app in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppPath {
    /// The organization's id or name.
    org: String,
    /// The app ID (`client_id`).
    app: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/apps",
    tag = "apps",
    params(OrgPath, ListQuery),
    responses((status = OK, body = Page<AppView>), ApiErrors)
)]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    page: ListQuery,
) -> Result<Json<Page<AppView>>, Problem> {
    let apps = state.manager.apps(&actor, &org, page.window()).await?;
    Ok(Json(self::page(
        apps.iter().map(AppView::new).collect(),
        &page,
    )))
}

/// An app as the CLI describes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppBody {
    #[serde(rename = "type")]
    app_type: AppType,
    name: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    legacy_grants: Vec<LegacyGrant>,
    /// Grants beyond the type's own that are not legacy (listed in `grant_types` once on).
    #[serde(default)]
    allow_grants: Vec<OptInGrant>,
    access_token_ttl: Option<i64>,
    /// Public keys instead of a secret (`private_key_jwt`, server and web apps): a JWKS
    /// document of at most 10 keys (16 KiB).
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// Public keys instead of a secret, fetched from this https URL.
    jwks_uri: Option<String>,
    /// Refuse authorization requests that were not pushed (RFC 9126 6).
    #[serde(default)]
    require_pushed_authorization_requests: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/apps",
    tag = "apps",
    params(OrgPath, IdempotencyKey),
    request_body = NewAppBody,
    responses((status = CREATED, description = "Created; `client_secret` is shown this once", body = AppView), ApiErrors)
)]
/// Answers the app secret, once (an app with keys has none).
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<NewAppBody>,
) -> Result<(StatusCode, Json<AppView>), Problem> {
    let keys = AppKeysBody {
        jwks: body.jwks,
        jwks_uri: body.jwks_uri,
    }
    .keys()?;
    let new = NewApp::new(body.app_type.into(), body.name)
        .keys(keys)
        .require_par(body.require_pushed_authorization_requests)
        .redirect_uris(body.redirect_uris)
        .post_logout_redirect_uris(body.post_logout_redirect_uris)
        .scopes(body.scopes)
        .legacy_grants(wire::all(body.legacy_grants))
        .device_grant(body.allow_grants.contains(&OptInGrant::DeviceCode))
        .access_token_ttl(body.access_token_ttl);
    let created = state.manager.create_app(&actor, &org, new).await?;
    Ok((StatusCode::CREATED, Json(AppView::with_secret(&created))))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/apps/{app}",
    tag = "apps",
    params(AppPath),
    responses((status = OK, body = AppView), ApiErrors)
)]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
) -> Result<Json<AppView>, Problem> {
    let (app, grants) = state.manager.app(&actor, Some(&org), &app).await?;
    Ok(Json(AppView::with_organizations(&app, grants)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/apps/{app}",
    tag = "apps",
    params(AppPath, IdempotencyKey),
    request_body = AppChanges,
    responses((status = OK, body = AppView), ApiErrors)
)]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
    ApiJson(changes): ApiJson<AppChanges>,
) -> Result<Json<AppView>, Problem> {
    let app = state
        .manager
        .update_app(&actor, Some(&org), &app, changes.into())
        .await?;
    Ok(Json(AppView::new(&app)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/apps/{app}",
    tag = "apps",
    params(AppPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Deleted"), ApiErrors)
)]
pub async fn remove(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
) -> Result<StatusCode, Problem> {
    state.manager.delete_app(&actor, Some(&org), &app).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Regeneration {
    /// Seconds the old secret keeps working; none by default.
    #[serde(default)]
    grace_seconds: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/apps/{app}/secret",
    tag = "apps",
    params(AppPath, IdempotencyKey),
    request_body = Regeneration,
    responses((status = OK, description = "The new `client_secret`, shown this once", body = AppView), ApiErrors)
)]
/// Answers the new secret, once.
pub async fn regenerate_secret(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
    ApiJson(body): ApiJson<Regeneration>,
) -> Result<Json<AppView>, Problem> {
    let regenerated = state
        .manager
        .regenerate_secret(&actor, Some(&org), &app, body.grace_seconds)
        .await?;
    Ok(Json(AppView::with_secret(&regenerated)))
}

#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/apps/{app}/keys",
    tag = "apps",
    params(AppPath, IdempotencyKey),
    request_body = AppKeysBody,
    responses((status = OK, description = "The app with its new keys", body = AppView), ApiErrors)
)]
/// Replaces the public keys of an app that authenticates with `private_key_jwt`.
pub async fn replace_keys(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
    ApiJson(body): ApiJson<AppKeysBody>,
) -> Result<Json<AppView>, Problem> {
    let Some(keys) = body.keys()? else {
        return Err(grantor_core::ServiceError::field("jwks", "give jwks or jwks_uri").into());
    };
    let app = state
        .manager
        .replace_app_keys(&actor, Some(&org), &app, keys)
        .await?;
    Ok(Json(AppView::new(&app)))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/added-apps",
    tag = "added apps",
    params(OrgPath, ListQuery),
    responses((status = OK, body = Page<OrgAccessGrant>), ApiErrors)
)]
pub async fn added(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    page: ListQuery,
) -> Result<Json<Page<OrgAccessGrant>>, Problem> {
    let grants = state
        .manager
        .added_apps(&actor, &org, page.window())
        .await?;
    Ok(Json(self::page(wire::all(grants), &page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Addition {
    client_id: String,
    scopes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/added-apps",
    tag = "added apps",
    params(OrgPath, IdempotencyKey),
    request_body = Addition,
    responses((status = CREATED, body = OrgAccessGrant), ApiErrors)
)]
pub async fn add_to_organization(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<Addition>,
) -> Result<(StatusCode, Json<OrgAccessGrant>), Problem> {
    let grant = state
        .manager
        .add_app_to_organization(&actor, &body.client_id, &org, body.scopes)
        .await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeChange {
    scopes: Vec<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/added-apps/{app}",
    tag = "added apps",
    params(AppPath, IdempotencyKey),
    request_body = ScopeChange,
    responses((status = OK, body = OrgAccessGrant), ApiErrors)
)]
pub async fn change_added(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
    ApiJson(body): ApiJson<ScopeChange>,
) -> Result<Json<OrgAccessGrant>, Problem> {
    state.manager.added_app(&actor, &org, &app).await?;
    let grant = state
        .manager
        .add_app_to_organization(&actor, &app, &org, body.scopes)
        .await?;
    Ok(Json(grant.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/added-apps/{app}",
    tag = "added apps",
    params(AppPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Removed"), ApiErrors)
)]
pub async fn remove_from_organization(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(AppPath { org, app }): Path<AppPath>,
) -> Result<StatusCode, Problem> {
    state
        .manager
        .remove_app_from_organization(&actor, &app, &org)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
