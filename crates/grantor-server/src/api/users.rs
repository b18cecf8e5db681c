//! Accounts, for platform admins: provisioning members before they first sign in.

use super::{ApiCaller, IdempotencyKey};
use crate::AppState;
use crate::error::{ApiErrors, Problem};
use crate::input::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use grantor_core::model::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    /// Shown in the console; the email when absent.
    name: Option<String>,
    /// At least 8 characters. Without one, the account cannot sign in with a password until
    /// it is given one.
    password: Option<String>,
}

/// An account as the API shows it (never its password).
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: String,
    email: String,
    name: String,
    platform_admin: bool,
    created_at: i64,
    /// Whether the address is verified; a new account's is not until the user opens the
    /// link mailed to it (sent when the server has mail).
    email_verified: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            platform_admin: user.platform_admin,
            created_at: user.created_at,
            email_verified: user.email_verified_at.is_some(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    params(IdempotencyKey),
    request_body = NewUser,
    responses((status = CREATED, description = "Created (platform admins, with grantor:orgs)", body = UserView), ApiErrors)
)]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), Problem> {
    let user = state
        .manager
        .create_user(
            &actor,
            &body.email,
            body.password.as_deref(),
            body.name.as_deref(),
            false,
        )
        .await?;
    crate::web::verify_email::send_verification(&state, &actor, &user).await;
    Ok((StatusCode::CREATED, Json(user.into())))
}
