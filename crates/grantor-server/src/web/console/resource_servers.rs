//! Resource servers: the organization's APIs (identifier, name) and their scopes with the
//! descriptions people see on the approval page.

use super::forms::{FormErrors, form_refusals, lines};
use super::frame::{Console, ConsoleForm, Nav};
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::{render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::manage::ResourceServerChanges;
use grantor_core::model::{ResourceServer, ScopeDefinition};

/// Scopes as the form writes them: one per line, the name, a space, the description.
fn scopes_text(scopes: &[ScopeDefinition]) -> String {
    scopes
        .iter()
        .map(|s| format!("{} {}", s.name, s.description))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The scopes typed in the form: one per line, the name, then its description if any. The
/// rules they must meet are `Manager`'s, the same for the API and the CLI.
fn parse_scopes(text: &str) -> Vec<ScopeDefinition> {
    lines(text)
        .into_iter()
        .map(|line| {
            let (name, description) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            ScopeDefinition {
                name: name.to_string(),
                description: description.trim().to_string(),
            }
        })
        .collect()
}

/// The form field of a resource server's setting, by the name `Manager` gives it: each
/// scope (`scopes[2].name`) is a line of the one scopes field.
fn form_field(name: &str) -> &'static str {
    match name {
        "identifier" => "identifier",
        "name" => "name",
        scopes if scopes == "scopes" || scopes.starts_with("scopes[") => "scopes",
        _ => "",
    }
}

/// The form of a resource server, as shown or as just submitted.
pub struct ServerForm {
    pub identifier: String,
    pub name: String,
    pub scopes: String,
}

pub struct ServerRow {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ScopeDefinition>,
}

#[derive(Template)]
#[template(path = "console/resource_servers.html")]
pub struct ServersPage {
    pub nav: Nav,
    pub servers: Vec<ServerRow>,
    pub form: ServerForm,
    pub errors: FormErrors,
    pub notice: Option<&'static str>,
}

async fn servers_page(
    state: &AppState,
    c: Console,
    form: ServerForm,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let servers = state
        .manager
        .resource_servers(&c.caller, &c.nav.org_id)
        .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &ServersPage {
            nav: c.nav,
            servers: servers
                .into_iter()
                .map(|rs| ServerRow {
                    id: rs.id,
                    identifier: rs.identifier,
                    name: rs.name,
                    scopes: rs.scopes,
                })
                .collect(),
            form,
            errors,
            notice,
        },
    ))
}

fn submitted(form: &grantor_core::params::Params) -> ServerForm {
    ServerForm {
        identifier: form.get("identifier").unwrap_or_default().trim().into(),
        name: form.get("name").unwrap_or_default().trim().into(),
        scopes: form.get("scopes").unwrap_or_default().into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice =
        (query.get("done") == Some("created")).then_some("The resource server was created.");
    let empty = ServerForm {
        identifier: String::new(),
        name: String::new(),
        scopes: String::new(),
    };
    servers_page(&state, c, empty, FormErrors::default(), notice).await
}

pub async fn create(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let entered = submitted(&form);
    let scopes = parse_scopes(&entered.scopes);
    // A second submission finds the identifier taken and changes nothing.
    match state
        .manager
        .create_resource_server(
            &c.caller,
            &c.nav.org_id,
            &entered.identifier,
            &entered.name,
            scopes,
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{}/resource-servers?done=created",
            c.base()
        ))),
        Err(e) => {
            let errors = form_refusals(e, form_field)?;
            servers_page(&state, c, entered, errors, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/resource_server.html")]
pub struct ServerPage {
    pub nav: Nav,
    pub server: ResourceServer,
    pub form: ServerForm,
    pub errors: FormErrors,
    pub notice: Option<&'static str>,
}

async fn server_page(
    state: &AppState,
    c: Console,
    id: &str,
    form: Option<ServerForm>,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let server = state
        .manager
        .resource_server(&c.caller, &c.nav.org_id, id)
        .await?;
    let form = form.unwrap_or_else(|| ServerForm {
        identifier: server.identifier.clone(),
        name: server.name.clone(),
        scopes: scopes_text(&server.scopes),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &ServerPage {
            nav: c.nav,
            server,
            form,
            errors,
            notice,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    c: Console,
    Path((_, id)): Path<(String, String)>,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice = (query.get("done") == Some("saved")).then_some("Your changes were saved.");
    server_page(&state, c, &id, None, FormErrors::default(), notice).await
}

pub async fn update(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let entered = submitted(&form);
    let scopes = parse_scopes(&entered.scopes);
    let changes = ResourceServerChanges {
        name: Some(entered.name.clone()),
        scopes: Some(scopes),
    };
    match state
        .manager
        .update_resource_server(&c.caller, &c.nav.org_id, &id, changes)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{}/resource-servers/{id}?done=saved",
            c.base()
        ))),
        Err(e) => {
            // The identifier cannot change here, so this form has no field for it.
            let errors = form_refusals(e, |f| match form_field(f) {
                "identifier" => "",
                field => field,
            })?;
            server_page(&state, c, &id, Some(entered), errors, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_a_name_and_a_description_per_line() {
        let parsed = parse_scopes("trades:read Read trades\n\n  trades:write  Place orders \n");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].name, "trades:write");
        assert_eq!(parsed[1].description, "Place orders");
        assert_eq!(
            scopes_text(&parsed),
            "trades:read Read trades\ntrades:write Place orders"
        );
        let bare = parse_scopes("trades:read\ntrades:write Place orders");
        assert_eq!(bare[0].name, "trades:read");
        assert_eq!(bare[0].description, "", "a description is optional");
    }
}
