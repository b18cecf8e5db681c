//! `/account/security`: the signed-in user's authenticator app. Set it up (a QR code drawn
//! here as an inline SVG, the secret as text, confirmed by a first code), get ten recovery
//! codes shown once, make new ones, or remove the app; the last two need a fresh code.

use super::pages::{EnrolView, SecurityPage};
use super::session::{self, Current};
use super::{csrf, render, see_other};
use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{PageError, sentence};
use crate::input::{PageForm, PageQuery};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::ServiceError;
use grantor_core::model::SignInMethod;
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;
use std::net::IpAddr;

pub(super) const HERE: &str = "/login?return_to=%2Faccount%2Fsecurity";
/// Light modules around the code that readers need (ISO/IEC 18004).
const QUIET_ZONE: usize = 4;

/// The dark modules of `text`'s QR code as one SVG path (runs of a row as one rectangle),
/// with the side in modules; `None` if the text does not fit a QR code.
fn qr_path(text: &str) -> Option<(String, usize)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row.get(x) != Some(&Color::Dark) {
                x += 1;
                continue;
            }
            let start = x;
            while row.get(x) == Some(&Color::Dark) {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                path,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    Some((path, width + 2 * QUIET_ZONE))
}

/// What the page shows besides the user's state: codes just made, a notice, a refusal.
#[derive(Default)]
pub(super) struct Shown {
    new_codes: Vec<String>,
    notice: Option<&'static str>,
    error: Option<(&'static str, String)>,
    /// Why the user was sent here, and where they go on (see [`sent_here`]).
    required_by: Option<String>,
    return_to: Option<String>,
}

/// The organization whose rule sent the user here (a name, shown, at most 100 characters as
/// names are) and the local path to continue to, from the page's query or form.
fn sent_here(values: &grantor_core::params::Params) -> (Option<String>, Option<String>) {
    let required_by = values
        .get("required")
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(char::is_control))
        .map(str::to_string);
    let return_to = values
        .get("return_to")
        .map(|to| super::login::safe_return_to(Some(to)));
    (required_by, return_to)
}

pub(super) async fn page(
    state: &AppState,
    current: &Current,
    source: IpAddr,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let caller = current.caller(source);
    let loaded = async {
        let factors = state.manager.second_factors(&caller).await?;
        let enrolment = if factors.totp {
            None
        } else {
            let e = state.manager.totp_enrolment(&caller, &state.kek).await?;
            let (qr_path, qr_size) = qr_path(&e.uri).unwrap_or_default();
            // In groups of four, as people copy it; apps ignore the spaces.
            let groups: Vec<String> = e
                .secret
                .as_bytes()
                .chunks(4)
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .collect();
            Some(EnrolView {
                secret: groups.join(" "),
                uri: e.uri,
                qr_path,
                qr_size,
            })
        };
        let passkeys = super::passkeys::section(state, current, &caller).await?;
        Ok::<_, ServiceError>((factors, enrolment, passkeys))
    }
    .await;
    let (factors, enrolment, (passkeys, passkey_register)) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            return PageError::Unavailable {
                message: "Your account could not be loaded.",
                detail: e.to_string(),
            }
            .into_response();
        }
    };
    render(
        status,
        &SecurityPage {
            csrf: csrf::token(&state.csrf_key, &current.id_hash),
            email: factors.email,
            totp: factors.totp,
            recovery_codes_left: factors.recovery_codes_left,
            enrolment,
            new_codes: shown.new_codes,
            notice: shown.notice,
            error: shown.error,
            passkeys,
            passkey_register,
            passkey_script: super::PASSKEY_SCRIPT,
            required_by: shown.required_by,
            return_to: shown.return_to,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageQuery(query): PageQuery,
) -> Response {
    let Some(current) = session::current(&state, &headers).await else {
        return see_other(HERE);
    };
    let notice = match query.get("totp") {
        Some("removed") => {
            Some("The authenticator app was removed. You sign in with your password alone.")
        }
        _ => match query.get("passkey") {
            Some("added") => Some("The passkey was added. You can sign in with it now."),
            Some("removed") => Some("The passkey was removed."),
            _ => None,
        },
    };
    let (required_by, return_to) = sent_here(&query);
    let shown = Shown {
        notice,
        required_by,
        return_to,
        ..Shown::default()
    };
    page(&state, &current, source, StatusCode::OK, shown).await
}

/// The session and the code of a form posted here, or the answer that stops it.
async fn posted<'a>(
    state: &AppState,
    headers: &HeaderMap,
    form: &'a grantor_core::params::Params,
) -> Result<(Current, &'a str), Response> {
    let current = session::posting(state, headers, form, HERE).await?;
    Ok((current, form.get("code").unwrap_or_default().trim()))
}

/// A refusal of form `which`, shown beside it.
pub(super) async fn refused(
    state: &AppState,
    current: &Current,
    source: IpAddr,
    shown: impl Into<Shown>,
    e: ServiceError,
) -> Response {
    let mut shown: Shown = shown.into();
    let which = shown
        .error
        .take()
        .map(|(which, _)| which)
        .unwrap_or("confirm");
    let (status, message) = match e {
        ServiceError::InvalidFields(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .into_iter()
                .next()
                .map(|e| sentence(&e.message))
                .unwrap_or_default(),
        ),
        ServiceError::Conflict(why) | ServiceError::Invalid(why) => {
            (StatusCode::CONFLICT, sentence(&why))
        }
        e => return PageError::Console(e).into_response(),
    };
    shown.error = Some((which, message));
    page(state, current, source, status, shown).await
}

/// Confirms the set-up with the app's first code; shows the recovery codes.
pub async fn confirm(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let (current, code) = match posted(&state, &headers, &form).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let caller = current.caller(source);
    let (required_by, return_to) = sent_here(&form);
    match state.manager.confirm_totp(&caller, &state.kek, code).await {
        Ok(codes) => {
            let shown = Shown {
                new_codes: codes,
                notice: Some("Your authenticator app is set up. Signing in now asks for its code."),
                return_to,
                ..Shown::default()
            };
            // The code just entered proves the second factor: this browser's session counts
            // as signed in with it from now on (a new session id, as at every sign-in).
            let method = SignInMethod::PasswordAndTotp;
            match session::step_up(&state, &headers, source, &current, method).await {
                Ok((cookie, renewed)) => {
                    let mut response = page(&state, &renewed, source, StatusCode::OK, shown).await;
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                    response
                }
                Err(e) => PageError::Unavailable {
                    message: "Your authenticator app is set up, but signing in again failed.",
                    detail: format!("renewing the session: {e}"),
                }
                .into_response(),
            }
        }
        Err(e) => {
            let shown = Shown {
                error: Some(("confirm", String::new())),
                required_by,
                return_to,
                ..Shown::default()
            };
            refused(&state, &current, source, shown, e).await
        }
    }
}

/// Removes the app, given a fresh code or a recovery code.
pub async fn remove(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let (current, code) = match posted(&state, &headers, &form).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let caller = current.caller(source);
    match state.manager.remove_totp(&caller, &state.kek, code).await {
        Ok(()) => see_other("/account/security?totp=removed"),
        Err(e) => refused(&state, &current, source, "remove", e).await,
    }
}

/// New recovery codes, given a fresh code; the old ones stop working.
pub async fn regenerate(
    State(state): State<AppState>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let (current, code) = match posted(&state, &headers, &form).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let caller = current.caller(source);
    match state
        .manager
        .regenerate_recovery_codes(&caller, &state.kek, code)
        .await
    {
        Ok(codes) => {
            let shown = Shown {
                new_codes: codes,
                notice: Some("New recovery codes were made. The old ones no longer work."),
                ..Shown::default()
            };
            page(&state, &current, source, StatusCode::OK, shown).await
        }
        Err(e) => refused(&state, &current, source, "regenerate", e).await,
    }
}

impl From<&'static str> for Shown {
    /// The page for a refusal of form `which`.
    fn from(which: &'static str) -> Self {
        Self {
            error: Some((which, String::new())),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::qr_path;

    #[test]
    fn the_qr_code_has_a_quiet_zone_and_only_path_commands() {
        let (path, size) = qr_path("otpauth://totp/grantor.test:a%40b?secret=ABC").unwrap();
        assert!(size >= 21 + 8);
        assert!(
            path.starts_with("M4 4h7v1h-7z"),
            "the finder pattern's top row"
        );
        assert!(
            path.chars()
                .all(|c| c.is_ascii_digit() || "Mhvz- ".contains(c))
        );
    }
}
