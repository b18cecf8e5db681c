//! Passkeys on the pages: "Sign in with a passkey" at `/login` (any account's discoverable
//! passkey, no email asked), "Use a passkey" at `/login/code` after the password, and adding
//! and removing them at `/account/security`.
//!
//! Each form carries a challenge made for its purpose and bound to what it belongs to: the
//! browser's binding cookie at sign-in, that and the pending user at the second step, the
//! session on the account page. The page's script (`assets/passkeys.js`, allowed by its hash)
//! asks the authenticator and posts the answer with the form; the checks are all in core.

use super::login::{self, safe_return_to, signed_in};
use super::pages::{PasskeyForm, PasskeyRegisterForm, PasskeyRow};
use super::security::{self, HERE};
use super::session::{self, Cookie, Current};
use super::{console::view::when, csrf, second_step, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::input::PageForm;
use aws_lc_rs::hmac;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::ServiceError;
use grantor_core::manage::{MAX_PASSKEYS, PasskeyAssertion, PasskeyError};
use grantor_core::model::{Caller, SignInMethod};
use grantor_core::params::Params;
use grantor_core::webauthn::{self, Challenge};

const SIGN_IN: &str = "sign-in";
const SECOND_STEP: &str = "second-step";
const REGISTER: &str = "register";

fn challenge_key(state: &AppState) -> hmac::Key {
    state.kek.derive_mac_key("grantor webauthn challenges")
}

fn second_step_binding(browser: &str, user_id: &str) -> String {
    format!("{browser}\n{user_id}")
}

/// A form for `purpose`, bound to `binding`; `None` if no challenge could be made (the page
/// then simply offers no passkey).
fn form(state: &AppState, purpose: &str, binding: &str, known: String) -> Option<PasskeyForm> {
    let rp = state.manager.relying_party().ok()?;
    // Browsers take only a domain as the RP ID: behind an issuer at an IP address (the
    // default loopback one) passkeys are not offered at all.
    if rp
        .id
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        return None;
    }
    let now = state.provider.clock.now();
    let challenge = webauthn::new_challenge(&challenge_key(state), purpose, binding, now).ok()?;
    Some(PasskeyForm {
        challenge,
        rp: rp.id,
        known,
    })
}

/// The sign-in page's passkey form, for the browser with binding cookie `browser`.
pub(super) fn sign_in_form(state: &AppState, browser: &str) -> Option<PasskeyForm> {
    form(state, SIGN_IN, browser, String::new())
}

/// The second step's passkey form, if `user_id` has passkeys.
pub(super) async fn second_step_form(
    state: &AppState,
    browser: &str,
    user_id: &str,
) -> Option<PasskeyForm> {
    let known = state.manager.passkey_credentials(user_id).await.ok()?;
    if known.is_empty() {
        return None;
    }
    let binding = second_step_binding(browser, user_id);
    form(state, SECOND_STEP, &binding, known.join(" "))
}

/// The account page's passkeys and its "Add a passkey" form.
pub(super) async fn section(
    state: &AppState,
    current: &Current,
    caller: &Caller,
) -> Result<(Vec<PasskeyRow>, Option<PasskeyRegisterForm>), ServiceError> {
    let passkeys = state.manager.passkeys(caller).await?;
    let known: Vec<&str> = passkeys
        .list
        .iter()
        .map(|p| p.credential_id.as_str())
        .collect();
    let register = if i64::try_from(known.len()).unwrap_or(i64::MAX) < MAX_PASSKEYS {
        form(state, REGISTER, &current.id_hash, known.join(" ")).map(|form| PasskeyRegisterForm {
            form,
            user_id: URL_SAFE_NO_PAD.encode(passkeys.user_id.as_bytes()),
            user_name: passkeys.email.clone(),
        })
    } else {
        None
    };
    let rows = passkeys
        .list
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            added: when(p.created_at),
            last_used: p.last_used_at.map(when),
        })
        .collect();
    Ok((rows, register))
}

/// A base64url field of the form; absent or not base64url reads as empty, which no check
/// accepts.
fn bytes_of(form: &Params, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(form.get(name).unwrap_or_default())
        .unwrap_or_default()
}

/// Adds a passkey: the answer of `navigator.credentials.create` to this page's challenge.
pub async fn add(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, HERE).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let caller = current.caller(source);
    let now = state.provider.clock.now();
    let challenge = form.get("challenge").unwrap_or_default();
    let Some(challenge) = Challenge::open(
        &challenge_key(&state),
        REGISTER,
        &current.id_hash,
        challenge,
        now,
    ) else {
        let expired = ServiceError::field("passkey", "the page expired; try again");
        return security::refused(&state, &current, source, "passkey-add", expired).await;
    };
    let added = state
        .manager
        .add_passkey(
            &caller,
            &challenge,
            form.get("name").unwrap_or_default(),
            &bytes_of(&form, "client_data"),
            &bytes_of(&form, "attestation"),
        )
        .await;
    match added {
        Ok(_) => see_other("/account/security?passkey=added"),
        Err(e) => security::refused(&state, &current, source, "passkey-add", e).await,
    }
}

/// Removes a passkey, given the password.
pub async fn remove(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let current = match session::posting(&state, &headers, &form, HERE).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let caller = current.caller(source);
    let removed = state
        .manager
        .remove_passkey(
            &caller,
            &state.provider.passwords,
            form.get("id").unwrap_or_default(),
            form.get("password").unwrap_or_default(),
        )
        .await;
    match removed {
        Ok(()) => see_other("/account/security?passkey=removed"),
        Err(e) => security::refused(&state, &current, source, "passkey-remove", e).await,
    }
}

/// Why a passkey did not sign in, as the page says it, with the status; the reason is logged.
fn refusal(e: PasskeyError) -> (StatusCode, &'static str) {
    match e {
        PasskeyError::Service(e) => {
            tracing::error!(error = %e, "checking a passkey failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is unavailable right now. Try again in a moment.",
            )
        }
        PasskeyError::Disabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask an administrator to enable it.",
        ),
        e => {
            tracing::info!(reason = ?e, "a passkey was refused");
            (
                StatusCode::UNAUTHORIZED,
                "That passkey could not sign you in. Try again, or use your password.",
            )
        }
    }
}

/// The answer of `navigator.credentials.get`, as the form posts it.
struct Posted {
    credential_id: String,
    client_data: Vec<u8>,
    authenticator_data: Vec<u8>,
    signature: Vec<u8>,
    user_handle: Vec<u8>,
}

impl Posted {
    fn of(form: &Params) -> Self {
        Self {
            credential_id: form.get("credential_id").unwrap_or_default().to_string(),
            client_data: bytes_of(form, "client_data"),
            authenticator_data: bytes_of(form, "authenticator_data"),
            signature: bytes_of(form, "signature"),
            user_handle: bytes_of(form, "user_handle"),
        }
    }

    fn assertion(&self) -> PasskeyAssertion<'_> {
        PasskeyAssertion {
            credential_id: &self.credential_id,
            client_data_json: &self.client_data,
            authenticator_data: &self.authenticator_data,
            signature: &self.signature,
            user_handle: (!self.user_handle.is_empty()).then_some(self.user_handle.as_slice()),
        }
    }
}

/// `POST /login/passkey`: a sign-in with a passkey alone.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let return_to = safe_return_to(form.get("return_to"));
    let browser = session::cookie(&state, &headers, Cookie::Browser).unwrap_or_default();
    let refused = |status, message: &'static str| {
        login::page_with_passkey_error(&state, &headers, status, return_to.clone(), message)
    };
    if browser.is_empty() || !csrf::verify(&state.csrf_key, browser, form.get("csrf")) {
        let message =
            "Your sign-in form expired or your browser blocked cookies. Please try again.";
        return refused(StatusCode::FORBIDDEN, message).await;
    }
    let now = state.provider.clock.now();
    let challenge = form.get("challenge").unwrap_or_default();
    let Some(challenge) = Challenge::open(&challenge_key(&state), SIGN_IN, browser, challenge, now)
    else {
        let message = "The sign-in page expired. Please try again.";
        return refused(StatusCode::FORBIDDEN, message).await;
    };
    let posted = Posted::of(&form);
    match state
        .manager
        .sign_in_with_passkey(&challenge, posted.assertion(), None)
        .await
    {
        Ok(user) => {
            let method = SignInMethod::Passkey {
                synced: user.synced,
            };
            signed_in(&state, &headers, address, &user.user_id, method, &return_to).await
        }
        Err(e) => {
            let (status, message) = refusal(e);
            refused(status, message).await
        }
    }
}

/// `POST /login/code/passkey`: a passkey as the second step, after the password.
pub async fn second_step(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let return_to = safe_return_to(form.get("return_to"));
    let Some(user_id) = second_step::pending_user(&state, &headers) else {
        return second_step::back_to_login(&return_to);
    };
    let browser = session::cookie(&state, &headers, Cookie::Browser).unwrap_or_default();
    let refused = |status, message: &'static str| {
        second_step::page_with_passkey_error(
            &state,
            &headers,
            &user_id,
            status,
            return_to.clone(),
            message,
        )
    };
    if !csrf::verify(&state.csrf_key, browser, form.get("csrf")) {
        return refused(
            StatusCode::FORBIDDEN,
            "Your form expired. Please try again.",
        )
        .await;
    }
    let now = state.provider.clock.now();
    let binding = second_step_binding(browser, &user_id);
    let challenge = form.get("challenge").unwrap_or_default();
    let Some(challenge) = Challenge::open(
        &challenge_key(&state),
        SECOND_STEP,
        &binding,
        challenge,
        now,
    ) else {
        return refused(StatusCode::FORBIDDEN, "The page expired. Please try again.").await;
    };
    let posted = Posted::of(&form);
    match state
        .manager
        .sign_in_with_passkey(&challenge, posted.assertion(), Some(&user_id))
        .await
    {
        Ok(user) => {
            let method = SignInMethod::PasswordAndPasskey {
                synced: user.synced,
            };
            let mut response =
                signed_in(&state, &headers, address, &user.user_id, method, &return_to).await;
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(&state, Cookie::Pending, "", 0),
            );
            response
        }
        Err(e) => {
            let (status, message) = refusal(e);
            refused(status, message).await
        }
    }
}
