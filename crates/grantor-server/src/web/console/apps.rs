//! OAuth Apps: the list, an app's detail and settings, deleting it and regenerating its
//! secret. Creating one is the wizard's (`wizard.rs`).

use super::app_parts::{ScopeOption, SecretPage, app_field, scope_options, type_label};
use super::forms::{FormErrors, Once, claim, done, form_refusals, lines, new_once, release};
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
use grantor_core::manage::AppChanges;
use grantor_core::model::{App, AppKeys, AppType, OrgAccessGrant};
use grantor_core::store::Window;

pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub app_type: &'static str,
    pub created: String,
    pub added_to: String,
}

#[derive(Template)]
#[template(path = "console/apps.html")]
pub struct AppsPage {
    pub nav: Nav,
    pub apps: Vec<AppRow>,
    pub notice: Option<&'static str>,
}

/// What a finished action says on the page it returns to (`?done=...`).
fn notice(query: &grantor_core::params::Params) -> Option<&'static str> {
    Some(match query.get("done")? {
        "deleted" => "The app was deleted.",
        "saved" => "Your changes were saved.",
        "again" => {
            "This form was already sent, and it acted then. A secret is shown only once: if you missed it, regenerate it."
        }
        _ => return None,
    })
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let apps = state
        .manager
        .apps_with_grants(&c.caller, &c.nav.org_id, Window::first(LIST_MAX))
        .await?;
    let mut rows = Vec::with_capacity(apps.len());
    for (app, grants) in apps {
        let added_to = grants
            .iter()
            .map(|g| g.org_name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(AppRow {
            client_id: app.client_id,
            name: app.name,
            app_type: type_label(app.app_type),
            created: when(app.created_at),
            added_to,
        });
    }
    Ok(render(
        StatusCode::OK,
        &AppsPage {
            nav: c.nav,
            apps: rows,
            notice: notice(&query),
        },
    ))
}

/// An app's settings as the form holds them: from the app, or as just submitted.
pub struct AppForm {
    pub name: String,
    pub redirect_uris: String,
    pub scopes: Vec<String>,
    pub access_token_ttl: String,
    /// RFC 9126 6: authorization requests only through PAR.
    pub require_par: bool,
}

impl AppForm {
    fn of(app: &App) -> Self {
        Self {
            name: app.name.clone(),
            redirect_uris: app.redirect_uris.join("\n"),
            scopes: app.scopes.iter().map(str::to_string).collect(),
            access_token_ttl: if app.access_token_ttl > 0 {
                app.access_token_ttl.to_string()
            } else {
                String::new()
            },
            require_par: app.require_par,
        }
    }

    fn submitted(form: &grantor_core::params::Params) -> Self {
        Self {
            name: form.get("name").unwrap_or_default().to_string(),
            redirect_uris: form.get("redirect_uris").unwrap_or_default().to_string(),
            scopes: form.all("scope").map(str::to_string).collect(),
            access_token_ttl: form
                .get("access_token_ttl")
                .unwrap_or_default()
                .trim()
                .to_string(),
            require_par: form.get("require_par") == Some("yes"),
        }
    }
}

/// How the app authenticates, as its page says it.
fn authentication(app: &App) -> String {
    match &app.keys {
        Some(AppKeys::Jwks(_)) => "Public keys (private_key_jwt), registered as a JWKS".into(),
        Some(AppKeys::Uri(uri)) => format!("Public keys (private_key_jwt), fetched from {uri}"),
        None if app.secret_hash.is_some() => "App secret".into(),
        None => "None (a public app)".into(),
    }
}

#[derive(Template)]
#[template(path = "console/app.html")]
pub struct AppPage {
    pub nav: Nav,
    pub app: App,
    pub type_label: &'static str,
    pub created: String,
    pub authentication: String,
    pub form: AppForm,
    pub scope_options: Vec<ScopeOption>,
    pub grants: Vec<OrgAccessGrant>,
    /// Whether this organization added the app (owners may add it when not).
    pub added_here: bool,
    pub errors: FormErrors,
    pub notice: Option<&'static str>,
}

async fn app_page(
    state: &AppState,
    c: Console,
    client_id: &str,
    form: Option<AppForm>,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let (app, grants) = state
        .manager
        .app(&c.caller, Some(&c.nav.org_id), client_id)
        .await?;
    let form = form.unwrap_or_else(|| AppForm::of(&app));
    let scope_options = scope_options(state, &c, app.app_type, &form.scopes).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &AppPage {
            type_label: type_label(app.app_type),
            created: when(app.created_at),
            authentication: authentication(&app),
            form,
            added_here: grants.iter().any(|g| g.org_id == c.nav.org_id),
            nav: c.nav,
            app,
            scope_options,
            grants,
            errors,
            notice,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    c: Console,
    Path((_, app)): Path<(String, String)>,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    app_page(&state, c, &app, None, FormErrors::default(), notice(&query)).await
}

pub async fn update(
    State(state): State<AppState>,
    Path((_, client_id)): Path<(String, String)>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let (app, _) = state
        .manager
        .app(&c.caller, Some(&c.nav.org_id), &client_id)
        .await?;
    let submitted = AppForm::submitted(&form);
    let ttl = if submitted.access_token_ttl.is_empty() {
        Ok(0)
    } else {
        submitted.access_token_ttl.parse::<i64>()
    };
    let Ok(ttl) = ttl else {
        let mut refused = FormErrors::default();
        refused.add(
            "access_token_ttl",
            "The access token lifetime must be a number of seconds.",
        );
        return app_page(&state, c, &client_id, Some(submitted), refused, None).await;
    };
    let changes = AppChanges {
        name: Some(submitted.name.clone()),
        redirect_uris: (app.app_type != AppType::Server).then(|| lines(&submitted.redirect_uris)),
        post_logout_redirect_uris: None,
        scopes: Some(submitted.scopes.clone()),
        // An empty field puts the server's default back.
        access_token_ttl: Some(ttl),
        require_par: (app.app_type != AppType::Server).then_some(submitted.require_par),
    };
    match state
        .manager
        .update_app(&c.caller, Some(&c.nav.org_id), &client_id, changes)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{}/apps/{client_id}?done=saved",
            c.base()
        ))),
        Err(e) => {
            // The settings form has no legacy grants (they cannot change): those go on top.
            let refused = form_refusals(e, |f| match app_field(f) {
                "legacy_grants" => "",
                field => field,
            })?;
            app_page(&state, c, &client_id, Some(submitted), refused, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/confirm.html")]
pub struct ConfirmPage {
    pub nav: Nav,
    pub title: String,
    pub explanation: String,
    pub action: String,
    pub button: &'static str,
    pub back: String,
    /// Offer a grace period for the old secret (regeneration).
    pub grace: bool,
    pub once: String,
}

async fn confirm(
    state: &AppState,
    c: Console,
    client_id: &str,
    regenerate: bool,
) -> Result<Response, PageError> {
    let (app, _) = state
        .manager
        .app(&c.caller, Some(&c.nav.org_id), client_id)
        .await?;
    let back = format!("{}/apps/{client_id}", c.base());
    let page = if regenerate {
        ConfirmPage {
            title: format!("Regenerate the secret of {}?", app.name),
            explanation: "A new secret is made and shown once. The current secret stops working \
                          at once, on every server, unless you keep it for a grace period while \
                          you deploy the new one."
                .into(),
            action: format!("{back}/secret"),
            button: "Regenerate secret",
            back,
            grace: true,
            once: new_once(),
            nav: c.nav,
        }
    } else {
        ConfirmPage {
            title: format!("Delete {}?", app.name),
            explanation: "The app stops working at once: its secret, the tokens it holds, the \
                          approvals people gave it and its access to organizations are deleted. \
                          This cannot be undone."
                .into(),
            action: format!("{back}/delete"),
            button: "Delete app",
            back,
            grace: false,
            once: new_once(),
            nav: c.nav,
        }
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    c: Console,
    Path((_, app)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm(&state, c, &app, false).await
}

pub async fn confirm_regenerate(
    State(state): State<AppState>,
    c: Console,
    Path((_, app)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm(&state, c, &app, true).await
}

pub async fn delete(
    State(state): State<AppState>,
    Path((_, client_id)): Path<(String, String)>,
    ConsoleForm {
        console: c,
        form: _,
    }: ConsoleForm,
) -> Result<Response, PageError> {
    state
        .manager
        .delete_app(&c.caller, Some(&c.nav.org_id), &client_id)
        .await?;
    Ok(see_other(&format!("{}/apps?done=deleted", c.base())))
}

pub async fn regenerate(
    State(state): State<AppState>,
    Path((_, client_id)): Path<(String, String)>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let grace: i64 = form
        .get("grace_seconds")
        .and_then(|g| g.parse().ok())
        .unwrap_or(0);
    state
        .manager
        .app(&c.caller, Some(&c.nav.org_id), &client_id)
        .await?;
    let key = match claim(&state, &c, &form).await? {
        Once::First(key) => key,
        Once::Done(_) | Once::Busy => {
            return Ok(see_other(&format!(
                "{}/apps/{client_id}?done=again",
                c.base()
            )));
        }
    };
    match state
        .manager
        .regenerate_secret(&c.caller, Some(&c.nav.org_id), &client_id, grace)
        .await
    {
        Ok(new) => {
            done(&state, &c, &key, &client_id).await;
            let page = SecretPage::new(
                c.nav,
                "New app secret",
                &new.app,
                new.client_secret,
                new.previous_secret_valid_until,
            );
            Ok(render(StatusCode::OK, &page))
        }
        Err(e) => {
            release(&state, &c, &key).await;
            Err(e.into())
        }
    }
}
