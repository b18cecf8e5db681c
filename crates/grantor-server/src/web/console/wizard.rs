//! *Create App*: a short wizard (kind of app, name and redirect URIs, scopes, other grants:
//! the device grant and the legacy ones, review). What was entered travels between steps in hidden fields and is checked again by
//! `Manager` at the end; the final form is one-time, so sending it twice makes one app.

use super::app_parts::{ScopeOption, SecretPage, app_field, scope_options, type_label};
use super::forms::{FormErrors, Once, claim, done, form_refusals, lines, new_once, release};
use super::frame::{Console, ConsoleForm, Nav};
use crate::AppState;
use crate::error::PageError;
use crate::web::{render, see_other};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::app_keys;
use grantor_core::manage::{NewApp, validate_redirect_uri};
use grantor_core::model::{AppKeys, AppType, LegacyGrant};
use grantor_core::params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Type,
    Details,
    Scopes,
    Legacy,
    Review,
}

impl Step {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("details") => Self::Details,
            Some("scopes") => Self::Scopes,
            Some("legacy") => Self::Legacy,
            Some("review") => Self::Review,
            _ => Self::Type,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Details => "details",
            Self::Scopes => "scopes",
            Self::Legacy => "legacy",
            Self::Review => "review",
        }
    }

    /// The steps an app of this type goes through: server apps have no other grants.
    fn path(app_type: Option<AppType>) -> &'static [Step] {
        match app_type {
            Some(AppType::Server) => &[Self::Type, Self::Details, Self::Scopes, Self::Review],
            _ => &[
                Self::Type,
                Self::Details,
                Self::Scopes,
                Self::Legacy,
                Self::Review,
            ],
        }
    }

    fn moved(self, app_type: Option<AppType>, forward: bool) -> Self {
        let path = Self::path(app_type);
        let at = path.iter().position(|s| *s == self).unwrap_or(0);
        let to = if forward {
            (at + 1).min(path.len() - 1)
        } else {
            at.saturating_sub(1)
        };
        path[to]
    }
}

/// What has been entered so far.
pub struct Draft {
    pub app_type: Option<AppType>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub legacy: Vec<&'static str>,
    pub legacy_ack: bool,
    /// The device grant (RFC 8628), not legacy: no risk to acknowledge.
    pub device: bool,
    /// Public keys instead of a secret (`private_key_jwt`): server and web apps.
    pub with_keys: bool,
    /// A pasted JWKS document, or a URL serving one.
    pub jwks: String,
    pub jwks_uri: String,
    /// RFC 9126 6: authorization requests only through PAR (web and native apps).
    pub require_par: bool,
    pub once: String,
}

impl Draft {
    fn read(form: &Params) -> Self {
        // The details step sends a textarea; the other steps carry one field per URI.
        let redirect_uris = match form.get("redirect_uris") {
            Some(text) => lines(text),
            None => form.all("redirect_uri").map(str::to_string).collect(),
        };
        Self {
            app_type: form.get("app_type").and_then(|t| t.parse().ok()),
            name: form.get("name").unwrap_or_default().trim().to_string(),
            redirect_uris,
            scopes: form.all("scope").map(str::to_string).collect(),
            legacy: ["password", "implicit"]
                .into_iter()
                .filter(|g| form.all("legacy").any(|l| l == *g))
                .collect(),
            legacy_ack: form.get("legacy_ack") == Some("yes"),
            device: form.get("device_grant") == Some("yes"),
            with_keys: form.get("auth") == Some("keys"),
            jwks: form.get("jwks").unwrap_or_default().trim().to_string(),
            jwks_uri: form.get("jwks_uri").unwrap_or_default().trim().to_string(),
            require_par: form.get("require_par") == Some("yes"),
            once: form
                .get("once")
                .map(str::to_string)
                .unwrap_or_else(new_once),
        }
    }

    pub fn type_str(&self) -> &'static str {
        self.app_type.map_or("", AppType::as_str)
    }

    pub fn type_label(&self) -> &'static str {
        self.app_type.map_or("", type_label)
    }

    pub fn redirect_text(&self) -> String {
        self.redirect_uris.join("\n")
    }

    pub fn has_legacy(&self, grant: &str) -> bool {
        self.legacy.contains(&grant)
    }

    pub fn is_server(&self) -> bool {
        self.app_type == Some(AppType::Server)
    }

    pub fn is_native(&self) -> bool {
        self.app_type == Some(AppType::Native)
    }

    /// The keys chosen, if the app authenticates with keys (never a native app's).
    fn keys(&self) -> Option<AppKeys> {
        if !self.with_keys || self.is_native() {
            return None;
        }
        Some(if self.jwks_uri.is_empty() {
            AppKeys::Jwks(self.jwks.clone())
        } else {
            AppKeys::Uri(self.jwks_uri.clone())
        })
    }

    fn legacy_grants(&self) -> Vec<LegacyGrant> {
        if !self.legacy_ack {
            return Vec::new();
        }
        self.legacy.iter().filter_map(|g| g.parse().ok()).collect()
    }
}

impl WizardPage {
    pub fn step_title(&self) -> &'static str {
        match Step::parse(Some(self.step)) {
            Step::Type => "kind of app",
            Step::Details if self.draft.is_server() => "name",
            Step::Details => "name and redirect URIs",
            Step::Scopes => "scopes",
            Step::Legacy => "other grants",
            Step::Review => "review",
        }
    }
}

#[derive(Template)]
#[template(path = "console/wizard.html")]
pub struct WizardPage {
    pub nav: Nav,
    pub step: &'static str,
    pub number: usize,
    pub total: usize,
    pub draft: Draft,
    pub scope_options: Vec<ScopeOption>,
    pub errors: FormErrors,
}

async fn show(
    state: &AppState,
    c: Console,
    step: Step,
    draft: Draft,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let path = Step::path(draft.app_type);
    let scope_options = if step == Step::Scopes {
        let app_type = draft.app_type.unwrap_or(AppType::Web);
        scope_options(state, &c, app_type, &draft.scopes).await?
    } else {
        Vec::new()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &WizardPage {
            nav: c.nav,
            step: step.name(),
            number: path.iter().position(|s| *s == step).unwrap_or(0) + 1,
            total: path.len(),
            draft,
            scope_options,
            errors,
        },
    ))
}

pub async fn start(State(state): State<AppState>, c: Console) -> Result<Response, PageError> {
    // Said at once rather than after five steps; `Manager` refuses the last one anyway.
    if !c.nav.can.manage_apps {
        return Err(grantor_core::ServiceError::Forbidden(format!(
            "creating apps needs the developer or owner role; you are a {}",
            c.nav.role
        ))
        .into());
    }
    let draft = Draft::read(&Params::default());
    show(&state, c, Step::Type, draft, FormErrors::default()).await
}

/// What is wrong with the answers of `step`, checked as `Manager` will check them.
fn check(step: Step, draft: &Draft, offered: &[ScopeOption]) -> FormErrors {
    let mut errors = FormErrors::default();
    match step {
        Step::Type if draft.app_type.is_none() => {
            errors.add("app_type", "Choose which kind of app this is.");
        }
        Step::Details => {
            if draft.name.is_empty() {
                errors.add("name", "Enter a name for the app.");
            }
            if let Some(app_type) = draft.app_type.filter(|t| *t != AppType::Server) {
                if draft.redirect_uris.is_empty() {
                    errors.add(
                        "redirect_uris",
                        "Add at least one redirect URI: where Grantor sends people back after signing in.",
                    );
                }
                if let Some(e) = draft
                    .redirect_uris
                    .iter()
                    .find_map(|uri| validate_redirect_uri(app_type, uri).err())
                {
                    errors.add("redirect_uris", crate::error::sentence(&e.to_string()));
                }
            }
            if draft.with_keys && !draft.is_native() {
                match (draft.jwks.is_empty(), draft.jwks_uri.is_empty()) {
                    (true, true) => errors.add(
                        "jwks",
                        "Paste the app's public keys (a JWKS), or give the URL that serves them.",
                    ),
                    (false, false) => errors.add(
                        "jwks_uri",
                        "Give the keys one way: clear the URL or the pasted JWKS.",
                    ),
                    (false, true) => {
                        if let Err(e) = app_keys::parse_jwks(&draft.jwks) {
                            errors.add("jwks", crate::error::sentence(&e));
                        }
                    }
                    (true, false) => {}
                }
            }
        }
        Step::Scopes => {
            if let Some(s) = draft
                .scopes
                .iter()
                .find(|s| !offered.iter().any(|o| &o.name == *s))
            {
                errors.add(
                    "scopes",
                    format!("The scope {s:?} is not offered in this organization."),
                );
            }
            if draft.is_server() && draft.scopes.is_empty() {
                errors.add(
                    "scopes",
                    "Choose at least one scope: without one the app can get no useful token.",
                );
            }
        }
        Step::Legacy if !draft.legacy.is_empty() && !draft.legacy_ack => {
            errors.add(
                "legacy",
                "Tick the box to confirm you understand the risks, or clear the legacy grants.",
            );
        }
        _ => {}
    }
    errors
}

pub async fn step(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let at = Step::parse(form.get("step"));
    let draft = Draft::read(&form);
    match form.get("go") {
        Some("back") => {
            let to = at.moved(draft.app_type, false);
            show(&state, c, to, draft, FormErrors::default()).await
        }
        Some("create") => create(&state, c, draft, &form).await,
        _ => {
            let offered = if at == Step::Scopes {
                scope_options(&state, &c, draft.app_type.unwrap_or(AppType::Web), &[]).await?
            } else {
                Vec::new()
            };
            let errors = check(at, &draft, &offered);
            if errors.is_empty() {
                let to = at.moved(draft.app_type, true);
                show(&state, c, to, draft, errors).await
            } else {
                show(&state, c, at, draft, errors).await
            }
        }
    }
}

async fn create(
    state: &AppState,
    c: Console,
    draft: Draft,
    form: &Params,
) -> Result<Response, PageError> {
    let Some(app_type) = draft.app_type else {
        return show(state, c, Step::Type, draft, FormErrors::default()).await;
    };
    let key = match claim(state, &c, form).await? {
        Once::First(key) => key,
        Once::Done(client_id) if !client_id.is_empty() => {
            return Ok(see_other(&format!(
                "{}/apps/{client_id}?done=again",
                c.base()
            )));
        }
        Once::Done(_) | Once::Busy => {
            return Ok(see_other(&format!("{}/apps?done=again", c.base())));
        }
    };
    let new = NewApp::new(app_type, draft.name.clone())
        .redirect_uris(draft.redirect_uris.clone())
        .scopes(draft.scopes.clone())
        .legacy_grants(draft.legacy_grants())
        .device_grant(draft.device && !draft.is_server())
        .keys(draft.keys())
        .require_par(draft.require_par && !draft.is_server());
    match state
        .manager
        .create_app(&c.caller, &c.nav.org_id, new)
        .await
    {
        Ok(created) => {
            done(state, &c, &key, &created.app.client_id).await;
            let page = SecretPage::new(
                c.nav,
                "App created",
                &created.app,
                created.client_secret,
                None,
            );
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(e) => {
            release(state, &c, &key).await;
            let refused = form_refusals(e, app_field)?;
            // Back to the first step with a refused answer, each reason beside its field.
            let mut errors = FormErrors::default();
            let mut first = Step::Review;
            for (field, message) in refused {
                let (step, field) = match field {
                    "name" | "redirect_uris" | "jwks" | "jwks_uri" => (Step::Details, field),
                    "require_par" => (Step::Legacy, field),
                    "scopes" => (Step::Scopes, field),
                    "legacy_grants" => (Step::Legacy, "legacy"),
                    "allow_grants" => (Step::Legacy, "device"),
                    _ => (Step::Review, "review"),
                };
                first = first.min(step);
                errors.add(field, message);
            }
            show(state, c, first, draft, errors).await
        }
    }
}
