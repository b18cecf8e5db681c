//! The signed-in member's own API tokens in this organization: make one (shown once), see
//! when each was last used, revoke.

use super::forms::{FormErrors, Once, claim, done, form_refusals, new_once, release};
use super::frame::{Console, ConsoleForm, Nav};
use super::view::when;
use crate::AppState;
use crate::error::PageError;
use crate::input::PageQuery;
use crate::web::{COPY_SCRIPT, render, see_other};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::ServiceError;
use grantor_core::manage::NewApiToken;
use grantor_core::policy;
use grantor_core::scope;

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// "active", "revoked" or "expired".
    pub status: &'static str,
}

pub struct ScopeOption {
    pub name: String,
    pub description: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "console/api_tokens.html")]
pub struct TokensPage {
    pub nav: Nav,
    pub tokens: Vec<TokenRow>,
    pub scopes: Vec<ScopeOption>,
    pub name: String,
    pub once: String,
    /// Beside the name, the scopes or the expiry, or on top.
    pub errors: FormErrors,
    /// A token just made: shown this once.
    pub new_token: Option<String>,
    pub notice: Option<&'static str>,
    pub copy_script: &'static str,
    /// `(days, label, selected)`.
    pub expiries: Vec<(&'static str, &'static str, bool)>,
}

/// Expiry choices, in days.
const EXPIRIES: [(&str, &str); 4] = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
];

struct Entered {
    name: String,
    scopes: Vec<String>,
    expiry_days: String,
}

async fn tokens_page(
    state: &AppState,
    c: Console,
    entered: Entered,
    errors: FormErrors,
    new_token: Option<String>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let tokens = state.manager.api_tokens(&c.caller, &c.user_id).await?;
    let servers = state
        .manager
        .resource_servers(&c.caller, &c.nav.org_id)
        .await?;
    let now = state.provider.clock.now();
    let rows = tokens
        .into_iter()
        .filter(|t| t.org_id == c.nav.org_id)
        .map(|t| TokenRow {
            status: if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at <= now {
                "expired"
            } else {
                "active"
            },
            id: t.id,
            name: t.name,
            scopes: t.scopes.to_string(),
            created: when(t.created_at),
            expires: when(t.expires_at),
            last_used: t.last_used_at.map_or_else(|| "never".into(), when),
        })
        .collect();
    // What the member's role lets a token do in the management API, then the organization's
    // own APIs.
    let checked = |name: &str| entered.scopes.iter().any(|s| s == name);
    let mut scopes: Vec<ScopeOption> = policy::management_scopes_for(c.nav.role, false)
        .iter()
        .map(|s| ScopeOption {
            name: s.to_string(),
            description: scope::describe_builtin(s).unwrap_or_default().into(),
            checked: checked(s),
        })
        .collect();
    for rs in servers {
        for s in rs.scopes {
            scopes.push(ScopeOption {
                checked: checked(&s.name),
                name: s.name,
                description: format!("{} ({})", s.description, rs.name),
            });
        }
    }
    let status = if !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if new_token.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &TokensPage {
            nav: c.nav,
            tokens: rows,
            scopes,
            name: entered.name,
            once: new_once(),
            errors,
            new_token,
            notice,
            copy_script: COPY_SCRIPT,
            expiries: EXPIRIES
                .iter()
                .map(|(days, label)| (*days, *label, *days == entered.expiry_days))
                .collect(),
        },
    ))
}

/// The form field of an API token's setting, by the name `Manager` gives it.
fn form_field(name: &str) -> &'static str {
    match name {
        "name" => "name",
        "scopes" => "scopes",
        "expires_in" => "expiry_days",
        _ => "",
    }
}

fn blank() -> Entered {
    Entered {
        name: String::new(),
        scopes: Vec::new(),
        expiry_days: "90".into(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    c: Console,
    PageQuery(query): PageQuery,
) -> Result<Response, PageError> {
    let notice = match query.get("done") {
        Some("revoked") => Some("The token was revoked: it can no longer be exchanged."),
        Some("again") => Some(
            "This form was already sent, and the token was made then. It was shown once; if you missed it, revoke it and make another.",
        ),
        _ => None,
    };
    tokens_page(&state, c, blank(), FormErrors::default(), None, notice).await
}

pub async fn create(
    State(state): State<AppState>,
    ConsoleForm { console: c, form }: ConsoleForm,
) -> Result<Response, PageError> {
    let entered = Entered {
        name: form.get("name").unwrap_or_default().trim().to_string(),
        scopes: form.all("scope").map(str::to_string).collect(),
        expiry_days: form.get("expiry_days").unwrap_or("90").to_string(),
    };
    let Some(days) = EXPIRIES
        .iter()
        .find(|(d, _)| *d == entered.expiry_days)
        .and_then(|(d, _)| d.parse::<i64>().ok())
    else {
        let mut errors = FormErrors::default();
        errors.add("expiry_days", "Choose when the token expires.");
        return tokens_page(&state, c, entered, errors, None, None).await;
    };
    let key = match claim(&state, &c, &form).await? {
        Once::First(key) => key,
        Once::Done(_) | Once::Busy => {
            return Ok(see_other(&format!("{}/api-tokens?done=again", c.base())));
        }
    };
    let new = NewApiToken {
        name: entered.name.clone(),
        scopes: entered.scopes.clone(),
        expires_in: Some(days * 86_400),
    };
    match state
        .manager
        .create_api_token(&c.caller, &c.nav.org_id, &c.user_id, new)
        .await
    {
        Ok((token, secret)) => {
            done(&state, &c, &key, &token.id).await;
            tokens_page(
                &state,
                c,
                blank(),
                FormErrors::default(),
                Some(secret),
                None,
            )
            .await
        }
        Err(e) => {
            release(&state, &c, &key).await;
            let errors = form_refusals(e, form_field)?;
            tokens_page(&state, c, entered, errors, None, None).await
        }
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    ConsoleForm {
        console: c,
        form: _,
    }: ConsoleForm,
) -> Result<Response, PageError> {
    match state.manager.revoke_api_token(&c.caller, &id).await {
        // Revoked before (a second click): the outcome the member wanted.
        Ok(()) | Err(ServiceError::NotFound(_)) => {
            Ok(see_other(&format!("{}/api-tokens?done=revoked", c.base())))
        }
        Err(e) => Err(e.into()),
    }
}
