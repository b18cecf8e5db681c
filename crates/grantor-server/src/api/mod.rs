//! The management API, `/api/v1`: a resource server of Grantor's own (identifier
//! `{issuer}/api/v1`, scopes `grantor:*`). Callers present Grantor access tokens; what a call
//! may do is decided by `Manager` and the policy module, as for the CLI and the console.
//! Handlers parse, call `Manager`, answer JSON; errors are RFC 9457 problems (`error.rs`).

mod api_tokens;
mod apps;
mod audit;
mod idempotency;
mod invitations;
mod members;
mod orgs;
mod registration;
mod users;
pub mod wire;

pub use idempotency::IdempotencyKey;

use crate::AppState;
use crate::error::Problem;
use crate::oauth::Authorization;
use axum::Json;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::model::Caller;
use grantor_core::params::Params;
use grantor_core::store::Window;
use grantor_core::{FieldErrors, ServiceError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Grantor management API",
        description = "Organizations, members, users, apps, resource servers, API tokens and the audit log. \
            Call it with a Grantor access token whose audience is `{issuer}/api/v1`: ask the token \
            endpoint for `grantor:*` scopes (an admin client's client credentials, a user's \
            authorization code, or an exchanged API token)."
    ),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    components(schemas(crate::error::ProblemBody))
)]
struct ApiDoc;

/// The bearer token scheme every operation requires.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The API's routes and its OpenAPI document, registered together from the handlers'
/// annotations, so the document cannot miss a route nor describe one that is not served.
pub fn router(state: AppState) -> Router<AppState> {
    let (routes, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::show, orgs::update))
        .routes(routes!(invitations::create))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::set_role, members::remove))
        .routes(routes!(
            orgs::resource_servers,
            orgs::create_resource_server
        ))
        .routes(routes!(
            orgs::show_resource_server,
            orgs::update_resource_server,
            orgs::delete_resource_server
        ))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::show, apps::update, apps::remove))
        .routes(routes!(apps::regenerate_secret))
        .routes(routes!(apps::replace_keys))
        .routes(routes!(apps::added, apps::add_to_organization))
        .routes(routes!(apps::change_added, apps::remove_from_organization))
        .routes(routes!(audit::list))
        .routes(routes!(
            registration::show,
            registration::open,
            registration::close
        ))
        .routes(routes!(api_tokens::list, api_tokens::create))
        .routes(routes!(api_tokens::revoke))
        .routes(routes!(users::create))
        .split_for_parts();
    let declared = idempotency::Declared::of(&doc);
    let doc = Arc::new(doc);
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            (state, declared),
            idempotency::replay_or_record,
        ))
        .route(OPENAPI_PATH, get(move || async move { Json(doc) }))
}

/// `{org}` in a path: an organization's id or name.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgPath {
    /// The organization's id or name.
    pub org: String,
}

/// Who is calling: the actor of a valid Grantor access token meant for this API, and the
/// client's address.
pub struct ApiCaller(pub Caller);

/// A caller already resolved from the request's token, handed on in its extensions.
#[derive(Clone)]
pub struct Resolved(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The idempotency middleware resolved the caller already: the token is checked once.
        if let Some(Resolved(caller)) = parts.extensions.get::<Resolved>() {
            let mut caller = caller.clone();
            caller.rehearsal = parts.extensions.get::<idempotency::Rehearsal>().is_some();
            return Ok(Self(caller));
        }
        let Ok(authorization) = Authorization::from_request_parts(parts, state).await;
        let token = authorization
            .bearer()
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
            .iter()
            .any(|a| state.provider.settings.is_management_api(a))
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
        let mut caller = Caller::new(actor, Some(source));
        caller.rehearsal = parts.extensions.get::<idempotency::Rehearsal>().is_some();
        Ok(Self(caller))
    }
}

/// One page of a list, with the cursor of the next one when there is more.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

const DEFAULT_LIMIT: usize = 50;
/// The most items a page of a list or of the audit log holds.
const MAX_LIMIT: u8 = 200;

/// The query parameter `name` as a number that `accepts`; when it is not one, `None`, and
/// `name` noted with the rule it breaks (`{name} must be {rule}`).
fn number_param<T: std::str::FromStr>(
    query: &Params,
    invalid: &mut FieldErrors,
    name: &str,
    accepts: impl Fn(&T) -> bool,
    rule: &str,
) -> Option<T> {
    // Present but empty (`limit=`) is not a number either.
    let value = query
        .pairs()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())?;
    let number = value.parse().ok().filter(|n| accepts(n));
    if number.is_none() {
        invalid.add(name, format!("{name} must be {rule}"));
    }
    number
}

/// The `limit` of a page, from 1 to [`MAX_LIMIT`].
fn limit_param<T>(query: &Params, invalid: &mut FieldErrors) -> Option<T>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
{
    let range = T::from(1)..=T::from(MAX_LIMIT);
    number_param(
        query,
        invalid,
        "limit",
        |n| range.contains(n),
        &format!("a number from 1 to {MAX_LIMIT}"),
    )
}

/// The `cursor`, noted when `read` (the decoder of this kind of cursor) cannot read it.
fn cursor_param<P>(
    query: &Params,
    invalid: &mut FieldErrors,
    read: impl Fn(&str) -> Option<P>,
) -> Option<String> {
    let cursor = query.get("cursor")?;
    if read(cursor).is_none() {
        invalid.add("cursor", "cursor is not valid: pass a next_cursor as given");
    }
    Some(cursor.to_string())
}

/// The text a cursor of this API carries (base64url), if it is one.
fn cursor_text(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

/// Where a list cursor points: the offset it was made from, if it is one of ours.
fn offset(cursor: &str) -> Option<usize> {
    cursor_text(cursor)?.strip_prefix("o:")?.parse().ok()
}

/// Cuts a page out of a list in a stable order, as a [`ListQuery`] (checked when it was
/// read) asks. The cursor is opaque to callers.
/// One page of a list held whole in memory (one organization's resource servers, one
/// user's API tokens).
pub fn paginate<T>(items: Vec<T>, query: &ListQuery) -> Page<T> {
    let window = query.window();
    page(
        items
            .into_iter()
            .skip(window.offset)
            .take(window.limit)
            .collect(),
        query,
    )
}

/// The page of a list read through `query.window()`: the extra item read says whether
/// another page follows.
pub fn page<T>(mut items: Vec<T>, query: &ListQuery) -> Page<T> {
    let window = query.window();
    let limit = window.limit - 1;
    let more = items.len() > limit;
    items.truncate(limit);
    let end = window.offset + items.len();
    Page {
        items,
        next_cursor: more.then(|| URL_SAFE_NO_PAD.encode(format!("o:{end}"))),
    }
}

/// `limit` and `cursor` of a list request, from a bounded query string.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many items (1 to 200; 50 when absent).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// Where the previous page ended: its `next_cursor`.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// What to read for this page: one item more than it holds, to learn whether another
    /// page follows.
    pub fn window(&self) -> Window {
        let limit = self
            .limit
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, usize::from(MAX_LIMIT));
        Window {
            offset: self.cursor.as_deref().and_then(offset).unwrap_or(0),
            limit: limit + 1,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = Params::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
            grantor_core::params::MAX_QUERY_BYTES,
        )?;
        let mut invalid = FieldErrors::default();
        let limit = limit_param(&query, &mut invalid);
        let cursor = cursor_param(&query, &mut invalid, offset);
        invalid.finish()?;
        Ok(Self { limit, cursor })
    }
}
