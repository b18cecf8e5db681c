//! Apps added to the organization: an owner lets a server app (this organization's, or
//! another's by its app ID) get tokens here, or members sign in to another organization's
//! web or native app, with the scopes chosen; and takes that back.

use super::app_parts::type_label;
use super::forms::form_message;
use super::frame::{Console, ConsoleForm, Nav};
use super::view::{LIST_MAX, when};
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::{render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::ServiceError;
use grantor_core::model::{App, AppType};
use grantor_core::params::Params;
use grantor_core::store::Window;

pub struct AddedRow {
    pub client_id: String,
    pub name: String,
    pub scopes: String,
    pub added: String,
}

#[derive(Template)]
#[template(path = "console/added.html")]
pub struct AddedPage {
    pub nav: Nav,
    pub added: Vec<AddedRow>,
    /// This organization's server apps not added yet.
    pub own_server_apps: Vec<(String, String)>,
    pub app_id: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
}

async fn added_page(
    state: &AppState,
    c: Console,
    app_id: String,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let grants = state
        .manager
        .added_apps_named(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?;
    let own = state
        .manager
        .apps(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?;
    let added: Vec<AddedRow> = grants
        .iter()
        .map(|(g, name)| AddedRow {
            client_id: g.client_id.clone(),
            name: name.clone(),
            scopes: g.scopes.to_string(),
            added: when(g.created_at),
        })
        .collect();
    let own_server_apps = own
        .into_iter()
        .filter(|a| a.app_type == AppType::Server)
        .filter(|a| !grants.iter().any(|(g, _)| g.client_id == a.client_id))
        .map(|a| (a.client_id, a.name))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &AddedPage {
            nav: c.nav,
            added,
            own_server_apps,
            app_id,
            error,
            notice,
        },
    ))
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice = match query.get("done") {
        Some("added") => {
            Some("The app was added. It can get tokens here with the scopes you chose.")
        }
        Some("removed") => Some("The app was removed from this organization."),
        _ => None,
    };
    added_page(&state, c, String::new(), None, notice).await
}

pub struct ScopeChoice {
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "console/add_app.html")]
pub struct AddAppPage {
    pub nav: Nav,
    pub app: App,
    pub type_label: &'static str,
    pub own: bool,
    pub scopes: Vec<ScopeChoice>,
    pub error: Option<String>,
}

async fn add_page(
    state: &AppState,
    c: Console,
    client_id: &str,
    chosen: Option<Vec<String>>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let app = match state
        .manager
        .app_to_add(&c.caller, &c.nav.org_id, client_id)
        .await
    {
        Ok(app) => app,
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Invalid(_))) => {
            let message = crate::error::sentence(&e.to_string());
            return added_page(state, c, client_id.into(), Some(message), None).await;
        }
        Err(e) => return Err(e.into()),
    };
    // Already added: start from what was granted; else from everything the app asks for.
    let granted = state
        .manager
        .added_apps(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?
        .into_iter()
        .find(|g| g.client_id == app.client_id)
        .map(|g| g.scopes);
    let scopes = app
        .scopes
        .iter()
        .map(|s| ScopeChoice {
            name: s.to_string(),
            checked: match (&chosen, &granted) {
                (Some(chosen), _) => chosen.iter().any(|c| c == s),
                (None, Some(granted)) => granted.contains(s),
                (None, None) => true,
            },
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &AddAppPage {
            type_label: type_label(app.app_type),
            own: app.org_id == c.nav.org_id,
            nav: c.nav,
            app,
            scopes,
            error,
        },
    ))
}

/// Step one of adding: the app, by ID (from the list or typed in); shows its scopes.
pub async fn choose(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let client_id = query.get("app").unwrap_or_default().trim().to_string();
    add_page(&state, c, &client_id, None, None).await
}

fn chosen_scopes(form: &Params) -> Vec<String> {
    form.all("scope").map(str::to_string).collect()
}

pub async fn add(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let client_id = form.get("client_id").unwrap_or_default().to_string();
    let scopes = chosen_scopes(&form);
    // Adding again only sets the scopes: sending the form twice changes nothing twice.
    match state
        .manager
        .add_app_to_organization(&c.caller, &client_id, &c.nav.org_id, scopes.clone())
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}/added-apps?done=added", c.base()))),
        Err(e) => {
            let message = form_message(e)?;
            add_page(&state, c, &client_id, Some(scopes), Some(message)).await
        }
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Path((_, client_id)): Path<(String, String)>,
    ConsoleForm {
        console: c,
        form: _,
    }: ConsoleForm,
) -> Result<Response, PageError> {
    match state
        .manager
        .remove_app_from_organization(&c.caller, &client_id, &c.nav.org_id)
        .await
    {
        // Removed before (a second click): the outcome the person wanted.
        Ok(()) | Err(ServiceError::NotFound(_)) => {
            Ok(see_other(&format!("{}/added-apps?done=removed", c.base())))
        }
        Err(e) => Err(e.into()),
    }
}
