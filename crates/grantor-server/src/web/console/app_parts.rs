//! What the app pages and the *Create App* wizard share: the scopes an app may be given,
//! the page that shows a secret once, how the console names app types, and which form field
//! a refusal of an app's setting belongs beside.

use super::frame::{Console, Nav};
use super::view::when;
use crate::AppState;
use crate::error::PageError;
use crate::web::COPY_SCRIPT;
use askama::Template;
use grantor_core::model::{App, AppType};
use grantor_core::scope::{self, OIDC_SCOPES};

/// A type as the console names it.
pub fn type_label(t: AppType) -> &'static str {
    match t {
        AppType::Server => "Server to server",
        AppType::Web => "Web",
        AppType::Native => "Native / mobile",
    }
}

/// A scope an app may be given, with what it means and which API it belongs to.
pub struct ScopeOption {
    pub name: String,
    pub description: String,
    pub api: String,
    pub checked: bool,
}

/// The scopes an app of this type can be given here: the organization's resource servers'
/// and, for apps that sign users in, OpenID Connect's.
pub async fn scope_options(
    state: &AppState,
    c: &Console,
    app_type: AppType,
    chosen: &[String],
) -> Result<Vec<ScopeOption>, PageError> {
    let servers = state
        .manager
        .resource_servers(&c.caller, &c.nav.org_id)
        .await?;
    let option = |name: &str, description: &str, api: &str| ScopeOption {
        name: name.into(),
        description: description.into(),
        api: api.into(),
        checked: chosen.iter().any(|c| c == name),
    };
    let mut options = Vec::new();
    if app_type != AppType::Server {
        for s in OIDC_SCOPES {
            options.push(option(
                s,
                scope::describe_builtin(s).unwrap_or_default(),
                "OpenID Connect",
            ));
        }
    }
    for rs in &servers {
        for s in &rs.scopes {
            options.push(option(&s.name, &s.description, &rs.name));
        }
    }
    Ok(options)
}

#[derive(Template)]
#[template(path = "console/secret.html")]
pub struct SecretPage {
    pub nav: Nav,
    pub title: &'static str,
    pub app_name: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub grace_until: Option<String>,
    pub copy_script: &'static str,
}

impl SecretPage {
    pub fn new(
        nav: Nav,
        title: &'static str,
        app: &App,
        secret: Option<String>,
        grace_until: Option<i64>,
    ) -> Self {
        Self {
            nav,
            title,
            app_name: app.name.clone(),
            client_id: app.client_id.clone(),
            secret,
            grace_until: grace_until.map(when),
            copy_script: COPY_SCRIPT,
        }
    }
}

/// The form field of an app's setting, by the name `Manager` gives it.
pub fn app_field(name: &str) -> &'static str {
    match name {
        "name" => "name",
        "redirect_uris" | "post_logout_redirect_uris" => "redirect_uris",
        "scopes" => "scopes",
        "legacy_grants" => "legacy_grants",
        "allow_grants" => "allow_grants",
        "access_token_ttl" => "access_token_ttl",
        "jwks" => "jwks",
        "jwks_uri" => "jwks_uri",
        "require_pushed_authorization_requests" => "require_par",
        _ => "",
    }
}
