//! Dynamic registration: an owner opens the organization to native apps registering
//! themselves without an initial access token (RFC 7591), choosing which of its APIs' scopes
//! they may ask for, or closes it. `Manager` checks the policy and audits.

use super::frame::{Console, ConsoleForm, Nav};
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::{render, see_other};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::ServiceError;

#[derive(Template)]
#[template(path = "console/registration.html")]
pub struct RegistrationPage {
    pub nav: Nav,
    pub endpoint: String,
    pub open: bool,
    /// The organization's scopes: name, description, whether in the ceiling.
    pub scopes: Vec<(String, String, bool)>,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
}

async fn page(
    state: &AppState,
    c: Console,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let ceiling = state
        .manager
        .registration_ceiling(&c.caller, &c.nav.org_id)
        .await?;
    let servers = state
        .manager
        .resource_servers(&c.caller, &c.nav.org_id)
        .await?;
    let scopes = servers
        .iter()
        .flat_map(|rs| rs.scopes.iter())
        .map(|s| {
            let chosen = ceiling.as_ref().is_some_and(|c| c.contains(&s.name));
            let description = if s.description.is_empty() {
                s.name.clone()
            } else {
                s.description.clone()
            };
            (s.name.clone(), description, chosen)
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &RegistrationPage {
            nav: c.nav,
            endpoint: format!(
                "{}/oauth2/register",
                state.provider.settings.issuer.trim_end_matches('/')
            ),
            open: ceiling.is_some(),
            scopes,
            error,
            notice,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice = match query.get("done") {
        Some("opened") => Some("Registration is open with the scopes chosen."),
        Some("closed") => Some("Registration is closed. Apps that joined keep working."),
        _ => None,
    };
    page(&state, c, None, notice).await
}

pub async fn change(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let done = if form.get("action") == Some("close") {
        state
            .manager
            .close_registration(&c.caller, &c.nav.org_id)
            .await
            .map(|()| "closed")
    } else {
        let scopes = form.all("scope").map(str::to_string).collect();
        state
            .manager
            .open_registration(&c.caller, &c.nav.org_id, scopes)
            .await
            .map(|_| "opened")
    };
    match done {
        Ok(done) => Ok(see_other(&format!("{}/registration?done={done}", c.base()))),
        Err(ServiceError::InvalidFields(fields)) => {
            let message = fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join(" ");
            page(&state, c, Some(crate::error::sentence(&message)), None).await
        }
        Err(e) => Err(e.into()),
    }
}
