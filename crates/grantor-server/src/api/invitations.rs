//! Invitations to an organization: made by owners, handed over as a link or, with mail on,
//! mailed by Grantor to the invited address (accepting a mailed one proves the address).

use super::{ApiCaller, IdempotencyKey, OrgPath};
use crate::AppState;
use crate::error::{ApiErrors, Problem};
use crate::input::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use grantor_core::ServiceError;
use grantor_core::manage::member_fields;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// The invited person's email.
    email: String,
    #[schema(value_type = super::wire::Role)]
    role: String,
    /// Mail the link to `email` (the server must have mail configured); otherwise the link
    /// is in the answer, to hand over.
    #[serde(default)]
    send_email: bool,
}

/// An invitation just made.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    id: String,
    org_id: String,
    email: String,
    role: super::wire::Role,
    expires_at: i64,
    /// Whether Grantor mailed the link to `email`.
    mailed: bool,
    /// The link, shown this once, when it was not mailed.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invitations",
    tag = "members",
    params(OrgPath, IdempotencyKey),
    request_body = NewInvitation,
    responses((status = CREATED, description = "Invited (owners)", body = InvitationView), ApiErrors)
)]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    Path(OrgPath { org }): Path<OrgPath>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<InvitationView>), Problem> {
    let (email, role) = member_fields("email", &body.email, &body.role)?;
    if body.send_email && !state.mailer.is_on() {
        return Err(ServiceError::field(
            "send_email",
            "this server sends no mail (no smtp_url is set): leave send_email out and hand the link over",
        )
        .into());
    }
    let (invitation, token) = state
        .manager
        .invite(&actor, &org, &email, role, body.send_email)
        .await?;
    let link = if body.send_email {
        let org_name = state.manager.organization(&invitation.org_id).await?.name;
        let mail =
            crate::web::verify_email::invitation_mail(&state, &invitation, &org_name, &token);
        state.mailer.send(mail);
        None
    } else {
        Some(format!(
            "{}/invitations/{token}",
            state.provider.settings.issuer
        ))
    };
    Ok((
        StatusCode::CREATED,
        Json(InvitationView {
            id: invitation.id,
            org_id: invitation.org_id,
            email: invitation.email,
            role: invitation.role.into(),
            expires_at: invitation.expires_at,
            mailed: invitation.mailed,
            link,
        }),
    ))
}
