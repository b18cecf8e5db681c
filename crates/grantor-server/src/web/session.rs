//! Browser sessions: the cookie holds a random id, the database its hash, so any node serves
//! any request.

use crate::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use grantor_core::authorize::SignedIn;
use grantor_core::manage::{LAST_SEEN_EVERY, clean_user_agent};
use grantor_core::model::SignInMethod;
use grantor_core::secret;
use grantor_core::store::{SessionRecord, SessionStore};
use std::net::IpAddr;

/// Grantor's cookies. Whenever they are `Secure` (an https issuer) their names carry the
/// `__Host-` prefix, so a browser takes them only from this host over https, never from a
/// sibling domain or a plain-http page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    Session,
    /// Binds the sign-in form's CSRF token before there is a session.
    Browser,
    /// Between a right password and the second factor's code (see `second_step`).
    Pending,
}

impl Cookie {
    fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Self::Session, false) => "grantor_session",
            (Self::Session, true) => "__Host-grantor_session",
            (Self::Browser, false) => "grantor_browser",
            (Self::Browser, true) => "__Host-grantor_browser",
            (Self::Pending, false) => "grantor_sign_in",
            (Self::Pending, true) => "__Host-grantor_sign_in",
        }
    }
}

pub fn cookie<'a>(state: &AppState, headers: &'a HeaderMap, which: Cookie) -> Option<&'a str> {
    let name = which.name(state.secure_cookies);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the attributes design.md requires.
pub fn set_cookie(state: &AppState, which: Cookie, value: &str, max_age: i64) -> HeaderValue {
    let name = which.name(state.secure_cookies);
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The signed-in user and the session's hash (what session-bound CSRF tokens bind to).
#[derive(Debug, Clone)]
pub struct Current {
    pub user: SignedIn,
    pub id_hash: String,
}

impl Current {
    /// The signed-in user as the management service sees them, for what concerns only
    /// themselves (their account, their approvals).
    pub fn actor(&self) -> grantor_core::model::Actor {
        grantor_core::model::Actor::User {
            user_id: self.user.user_id.clone(),
            platform_admin: false,
            token: None,
        }
    }

    /// The signed-in user acting on their own account from `source`.
    pub fn caller(&self, source: std::net::IpAddr) -> grantor_core::model::Caller {
        grantor_core::model::Caller::new(self.actor(), Some(source))
    }
}

/// The session posting a form from the user's own pages, its CSRF token checked; otherwise
/// the answer: a signed-out browser goes to `sign_in` (a sign-in URL returning here), an
/// expired or forged token gets the form-expired page.
pub async fn posting(
    state: &AppState,
    headers: &HeaderMap,
    form: &grantor_core::params::Params,
    sign_in: &str,
) -> Result<Current, axum::response::Response> {
    use axum::response::IntoResponse;
    let Some(current) = current(state, headers).await else {
        return Err(super::see_other(sign_in));
    };
    if !super::csrf::verify(&state.csrf_key, &current.id_hash, form.get("csrf")) {
        let expired = crate::error::PageError::FormExpired("Reload the page and try again.");
        return Err(expired.into_response());
    }
    Ok(current)
}

pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<Current> {
    let id = cookie(state, headers, Cookie::Session)?;
    let id_hash = secret::hash(id);
    let record = state.store.session(&id_hash).await.ok().flatten()?;
    let now = state.provider.clock.now();
    if record.expires_at <= now {
        return None;
    }
    // Read on every request, written at most once a minute.
    if now - record.last_seen_at >= LAST_SEEN_EVERY
        && let Err(e) = state.store.touch_session(&id_hash, now).await
    {
        tracing::warn!(error = %e, "noting when a session was last seen failed");
    }
    Some(Current {
        user: SignedIn {
            user_id: record.user_id,
            auth_time: record.auth_time,
            method: record.method,
        },
        id_hash,
    })
}

/// Ends the session `current` (signing out); the cookie is cleared by the caller.
pub async fn end(state: &AppState, current: &Current) {
    if let Err(e) = state.store.delete_session(&current.id_hash).await {
        tracing::warn!(error = %e, "ending a session failed");
    }
}

/// Starts a session for `user_id`, signed in from `address` with the browser `headers` name;
/// returns the `Set-Cookie` value.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    address: IpAddr,
    user_id: &str,
    method: SignInMethod,
) -> Result<HeaderValue, grantor_core::OAuthError> {
    started(state, headers, address, user_id, method)
        .await
        .map(|(cookie, _)| cookie)
}

/// As [`start`], also returning the new session as [`Current`].
async fn started(
    state: &AppState,
    headers: &HeaderMap,
    address: IpAddr,
    user_id: &str,
    method: SignInMethod,
) -> Result<(HeaderValue, Current), grantor_core::OAuthError> {
    let id = secret::generate(secret::Kind::Session)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|v| clean_user_agent(&String::from_utf8_lossy(v.as_bytes())))
        .unwrap_or_default();
    let now = state.provider.clock.now();
    let ttl = state.provider.settings.session_ttl;
    state
        .store
        .create_session(&SessionRecord {
            id_hash: secret::hash(&id),
            user_id: user_id.into(),
            auth_time: now,
            method,
            expires_at: now + ttl,
            handle: secret::new_id("ses_")?,
            user_agent,
            address: address.to_string(),
            last_seen_at: now,
        })
        .await?;
    let current = Current {
        user: SignedIn {
            user_id: user_id.into(),
            auth_time: now,
            method,
        },
        id_hash: secret::hash(&id),
    };
    Ok((set_cookie(state, Cookie::Session, &id, ttl), current))
}

/// Replaces the session `old` with a new one signed in with `method`, now: after the user
/// proved a second factor on their own pages (setting one up). Returns the cookie and the
/// new session.
pub async fn step_up(
    state: &AppState,
    headers: &HeaderMap,
    address: IpAddr,
    old: &Current,
    method: SignInMethod,
) -> Result<(HeaderValue, Current), grantor_core::OAuthError> {
    end(state, old).await;
    started(state, headers, address, &old.user.user_id, method).await
}

/// Starts a new session for `user_id` who just signed in, ending the browser's current one
/// first: a fresh id at every sign-in, so no session fixation.
pub async fn renew(
    state: &AppState,
    headers: &HeaderMap,
    address: IpAddr,
    user_id: &str,
    method: SignInMethod,
) -> Result<HeaderValue, grantor_core::OAuthError> {
    if let Some(old) = current(state, headers).await {
        end(state, &old).await;
    }
    start(state, headers, address, user_id, method).await
}
