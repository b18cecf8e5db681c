//! The management API, `/api/v1`: a resource server of Grantor's own (identifier
//! `{issuer}/api/v1`, scopes `grantor:*`). Callers present Grantor access tokens; what a call
//! may do is decided by `Manager` and the policy module, as for the CLI and the console.
//! Handlers parse, call `Manager`, answer JSON; errors are RFC 9457 problems (`error.rs`).

mod api_tokens;
mod apps;
mod audit;
mod idempotency;
mod members;
mod orgs;

use crate::AppState;
use crate::error::Problem;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{delete, get, patch, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::ServiceError;
use grantor_core::model::Caller;
use serde::Serialize;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs", get(orgs::list).post(orgs::create))
        .route("/api/v1/orgs/{org}", get(orgs::show))
        .route(
            "/api/v1/orgs/{org}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/api/v1/orgs/{org}/members/{user}",
            patch(members::set_role).delete(members::remove),
        )
        .route(
            "/api/v1/orgs/{org}/resource-servers",
            get(orgs::resource_servers).post(orgs::create_resource_server),
        )
        .route(
            "/api/v1/orgs/{org}/resource-servers/{id}",
            get(orgs::show_resource_server)
                .patch(orgs::update_resource_server)
                .delete(orgs::delete_resource_server),
        )
        .route(
            "/api/v1/orgs/{org}/apps",
            get(apps::list).post(apps::create),
        )
        .route(
            "/api/v1/orgs/{org}/apps/{app}",
            get(apps::show).patch(apps::update).delete(apps::remove),
        )
        .route(
            "/api/v1/orgs/{org}/apps/{app}/secret",
            post(apps::regenerate_secret),
        )
        .route(
            "/api/v1/orgs/{org}/added-apps",
            get(apps::added).post(apps::add_to_organization),
        )
        .route(
            "/api/v1/orgs/{org}/added-apps/{app}",
            patch(apps::change_added).delete(apps::remove_from_organization),
        )
        .route("/api/v1/orgs/{org}/audit-events", get(audit::list))
        .route(
            "/api/v1/me/api-tokens",
            get(api_tokens::list).post(api_tokens::create),
        )
        .route("/api/v1/me/api-tokens/{id}", delete(api_tokens::revoke))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            idempotency::replay_or_record,
        ))
}

/// Who is calling: the actor of a valid Grantor access token meant for this API, and the
/// client's address.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::oauth::bearer(&parts.headers)
            .ok_or_else(|| Problem::unauthorized("a bearer access token is required"))?;
        let claims = state
            .provider
            .active_access_token(token)
            .await
            .map_err(|e| Problem::from(ServiceError::Unavailable(e.to_string())))?
            .ok_or_else(|| {
                Problem::unauthorized("the access token is invalid, expired or revoked")
            })?;
        if !claims
            .aud
            .contains(&state.provider.settings.management_api())
        {
            return Err(Problem::unauthorized(
                "the access token is not meant for the management API: ask for grantor:* scopes",
            ));
        }
        let actor = state
            .manager
            .token_actor(&claims)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound(_) => {
                    Problem::unauthorized("the access token's app or user no longer exists")
                }
                other => Problem::from(other),
            })?;
        let source = crate::client_address::ClientAddress::of(parts, state);
        Ok(Self(Caller::new(actor, Some(source))))
    }
}

/// One page of a list, with the cursor of the next one when there is more.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// Cuts a page out of a list in a stable order. The cursor is opaque to callers.
pub fn paginate<T>(items: Vec<T>, query: &ListQuery) -> Result<Page<T>, Problem> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ServiceError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")).into());
    }
    let start = match &query.cursor {
        None => 0,
        Some(c) => URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| Problem::from(ServiceError::Invalid("cursor is not valid".into())))?,
    };
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let end = start + items.len();
    Ok(Page {
        items,
        next_cursor: (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("o:{end}"))),
    })
}

/// `limit` and `cursor` of a list request, from a bounded query string.
pub struct ListQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = grantor_core::params::Params::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
            grantor_core::params::MAX_QUERY_BYTES,
        )?;
        let limit = match query.get("limit") {
            None => None,
            Some(l) => Some(l.parse().map_err(|_| {
                Problem::from(ServiceError::Invalid("limit must be a number".into()))
            })?),
        };
        Ok(Self {
            limit,
            cursor: query.get("cursor").map(str::to_string),
        })
    }
}
