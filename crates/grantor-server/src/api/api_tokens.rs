//! The caller's own API tokens.

use super::wire::{self, ApiToken};
use super::{ApiCaller, IdempotencyKey, ListQuery, Page, paginate};
use crate::AppState;
use crate::error::ApiErrors;
use crate::error::Problem;
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::ServiceError;
use grantor_core::manage::NewApiToken;
use grantor_core::model::Actor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An API token in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApiTokenPath {
    /// The API token's id.
    id: String,
}

/// The calling user's id and the organization their token acts in; an admin client has no
/// API tokens.
fn me(actor: &Actor) -> Result<(&str, Option<&str>), Problem> {
    match actor {
        Actor::User { user_id, token, .. } => {
            Ok((user_id, token.as_ref().map(|t| t.org_id.as_str())))
        }
        _ => Err(ServiceError::NotFound("API tokens of an app".into()).into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/me/api-tokens",
    tag = "API tokens",
    params(ListQuery),
    responses((status = OK, body = Page<ApiToken>), ApiErrors)
)]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    page: ListQuery,
) -> Result<Json<Page<ApiToken>>, Problem> {
    let (user, _) = me(&actor)?;
    let tokens = state.manager.api_tokens(&actor, user).await?;
    Ok(Json(paginate(wire::all(tokens), &page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
    /// Seconds; 90 days when absent, at most a year.
    expires_in: Option<i64>,
    /// The organization (id or name); the calling token's when absent.
    org: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    token: ApiToken,
    /// Shown once.
    secret: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/me/api-tokens",
    tag = "API tokens",
    params(IdempotencyKey),
    request_body = NewToken,
    responses((status = CREATED, description = "Created; `secret` is shown this once", body = CreatedToken), ApiErrors)
)]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), Problem> {
    let (user, token_org) = me(&actor)?;
    let org = body
        .org
        .as_deref()
        .or(token_org)
        .ok_or_else(|| {
            Problem::from(ServiceError::field(
                "org",
                "org is required: this token acts in no organization",
            ))
        })?
        .to_string();
    let new = NewApiToken {
        name: body.name,
        scopes: body.scopes,
        expires_in: body.expires_in,
    };
    let (token, secret) = state
        .manager
        .create_api_token(&actor, &org, user, new)
        .await?;
    let token = token.into();
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/api-tokens/{id}",
    tag = "API tokens",
    params(ApiTokenPath, IdempotencyKey),
    responses((status = NO_CONTENT, description = "Revoked"), ApiErrors)
)]
pub async fn revoke(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(ApiTokenPath { id }): Path<ApiTokenPath>,
) -> Result<StatusCode, Problem> {
    me(&actor)?;
    state.manager.revoke_api_token(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
