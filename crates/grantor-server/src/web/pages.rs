//! One view struct per page; askama escapes every value.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use grantor_core::authorize::ScopeChoice;
use grantor_core::model::Membership;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub return_to: String,
    pub email: String,
    pub app_name: Option<String>,
    pub error: Option<String>,
    /// "Sign in with a passkey" (shown by its script), and why the last try failed.
    pub passkey: Option<PasskeyForm>,
    pub passkey_error: Option<String>,
    pub passkey_script: &'static str,
}

/// What a passkey form's script needs: a challenge, the RP ID, and the credential ids that
/// may answer (a second step) or must not be registered again (space-separated base64url).
pub struct PasskeyForm {
    pub challenge: String,
    pub rp: String,
    pub known: String,
}

/// The account page's "Add a passkey" form: a [`PasskeyForm`] and the WebAuthn user.
pub struct PasskeyRegisterForm {
    pub form: PasskeyForm,
    /// The user's id, base64url: the user handle a discoverable passkey gives back.
    pub user_id: String,
    pub user_name: String,
}

/// A passkey in the account page's list.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

/// The second step of a sign-in: the authenticator's code.
#[derive(Template)]
#[template(path = "login_code.html")]
pub struct CodePage {
    pub csrf: String,
    pub return_to: String,
    pub error: Option<String>,
    /// Whether the account has an authenticator app (else only its passkeys are offered).
    pub totp: bool,
    pub passkey: Option<PasskeyForm>,
    pub passkey_error: Option<String>,
    pub passkey_script: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub csrf: String,
    /// Where the decision goes: `/consent` for the code flow, `/device/decide` for a device.
    pub action: &'static str,
    /// What is resubmitted with the decision: the authorization request, form-encoded, or
    /// the device's user code.
    pub hidden: Vec<(&'static str, String)>,
    /// A device's user code, for the person to compare with the device's screen.
    pub user_code: Option<String>,
    pub app_name: String,
    pub app_org_name: String,
    pub user_email: String,
    pub orgs: Vec<(String, String)>,
    pub scopes: Vec<ScopeChoice>,
}

/// `/device`: where a person types the code their device shows.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub csrf: String,
    pub user_code: String,
    pub error: Option<String>,
}

/// `/device` after the person answered.
#[derive(Template)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage {
    pub approved: bool,
    pub app_name: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// Shown inside the console: point back to it rather than to an app.
    pub console: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub signed_in: bool,
    pub csrf: String,
    /// The app the return address is registered for, so the form's answer is checked again.
    pub client_id: String,
    pub post_logout_redirect_uri: String,
    pub state: String,
}

pub struct ApprovalRow {
    pub app_name: String,
    pub org_name: String,
    pub client_id: String,
    pub org_id: String,
    pub scopes: String,
}

/// The account page's password form: what was wrong with the last try, or that it worked.
#[derive(Debug, Default)]
pub struct PasswordForm {
    pub changed: bool,
    pub current_error: Option<String>,
    pub new_error: Option<String>,
    pub confirm_error: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub csrf: String,
    pub email: String,
    pub memberships: Vec<Membership>,
    pub approvals: Vec<ApprovalRow>,
    pub password: PasswordForm,
    pub sessions: Vec<SessionRow>,
    /// How many sessions the last "sign out" ended, to say so.
    pub ended: Option<u64>,
    /// Whether the email is verified, whether this server can mail a link to verify it,
    /// and what became of the last request for one.
    pub email_verified: bool,
    pub mail_on: bool,
    pub verify_notice: Option<&'static str>,
}

/// One of the user's sessions at `/account`, its times already written out.
pub struct SessionRow {
    pub handle: String,
    pub browser: String,
    /// The User-Agent, shown under the summary when the summary is not the User-Agent itself.
    pub user_agent: Option<String>,
    pub address: String,
    pub signed_in: String,
    pub last_seen: String,
    pub current: bool,
}

/// A pending authenticator set-up: its QR code (the modules of the `otpauth://` URI, as
/// an SVG path), the secret to type in instead, and the URI itself.
pub struct EnrolView {
    pub secret: String,
    pub uri: String,
    pub qr_path: String,
    /// Modules per side, with the quiet zone.
    pub qr_size: usize,
}

#[derive(Template)]
#[template(path = "account_security.html")]
pub struct SecurityPage {
    pub csrf: String,
    pub email: String,
    pub totp: bool,
    pub recovery_codes_left: i64,
    pub enrolment: Option<EnrolView>,
    /// Recovery codes just made, shown this once.
    pub new_codes: Vec<String>,
    pub notice: Option<&'static str>,
    /// The refusal of the form named by the first part (`confirm`, `remove`, `regenerate`,
    /// `passkey-add`, `passkey-remove`).
    pub error: Option<(&'static str, String)>,
    pub passkeys: Vec<PasskeyRow>,
    /// `None` when the account has as many passkeys as it may.
    pub passkey_register: Option<PasskeyRegisterForm>,
    pub passkey_script: &'static str,
    /// The organization whose rule sent the user here to set up a second factor.
    pub required_by: Option<String>,
    /// Where to continue once it is set up (a local path).
    pub return_to: Option<String>,
}

impl SecurityPage {
    /// The error of form `form`, if the last try of it was refused.
    pub fn error_of(&self, form: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == form)
            .map(|(_, m)| m.as_str())
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    super::render(
        status,
        &ErrorPage {
            title,
            message,
            console: false,
        },
    )
}

pub fn console_error_page(status: StatusCode, title: &str, message: &str) -> Response {
    super::render(
        status,
        &ErrorPage {
            title,
            message,
            console: true,
        },
    )
}
