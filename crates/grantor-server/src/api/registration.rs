//! An organization's dynamic registration setting: whether native apps may register without
//! an initial access token (RFC 7591) and join it through an authorization request naming one
//! of its APIs, and the scopes such apps may ask for (the ceiling). Off by default; owners
//! only; audited.

use super::{ApiCaller, IdempotencyKey, OrgPath};
use crate::AppState;
use crate::error::{ApiErrors, Problem};
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::scope::ScopeSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Opening registration: the scopes anonymously registered apps may ask for (the
/// organization's resource servers' scopes, and OpenID Connect's).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    scopes: Vec<String>,
}

/// Whether the organization accepts anonymous registration, and with which ceiling.
#[derive(Serialize, ToSchema)]
pub struct RegistrationSetting {
    open: bool,
    scopes: Vec<String>,
    /// Where clients register (RFC 7591).
    registration_endpoint: String,
}

impl RegistrationSetting {
    fn new(state: &AppState, ceiling: Option<ScopeSet>) -> Self {
        Self {
            open: ceiling.is_some(),
            scopes: ceiling
                .map(|c| c.iter().map(str::to_string).collect())
                .unwrap_or_default(),
            registration_endpoint: format!(
                "{}/oauth2/register",
                state.provider.settings.issuer.trim_end_matches('/')
            ),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/registration",
    tag = "registration",
    params(OrgPath),
    responses((status = OK, body = RegistrationSetting), ApiErrors)
)]
pub async fn show(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<Json<RegistrationSetting>, Problem> {
    let ceiling = state.manager.registration_ceiling(&actor, &org).await?;
    Ok(Json(RegistrationSetting::new(&state, ceiling)))
}

#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/registration",
    tag = "registration",
    params(OrgPath, IdempotencyKey),
    request_body = Opening,
    responses((status = OK, body = RegistrationSetting), ApiErrors)
)]
/// Opens the organization to anonymous registration of native apps, or changes the ceiling.
pub async fn open(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<Opening>,
) -> Result<Json<RegistrationSetting>, Problem> {
    let ceiling = state
        .manager
        .open_registration(&actor, &org, body.scopes)
        .await?;
    Ok(Json(RegistrationSetting::new(&state, Some(ceiling))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/registration",
    tag = "registration",
    params(OrgPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Closed; apps already registered keep working"), ApiErrors)
)]
pub async fn close(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
) -> Result<StatusCode, Problem> {
    state.manager.close_registration(&actor, &org).await?;
    Ok(StatusCode::NO_CONTENT)
}
