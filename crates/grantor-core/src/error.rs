//! The error types of the core: protocol errors (RFC 6749 and friends), service errors for
//! management operations, and storage errors as seen by the core.
//!
//! Each carries a public description and, where useful, a private `detail` that is logged but
//! never sent. Turning them into responses happens in one place, `grantor-server`'s `error.rs`.

use std::fmt;

/// Error codes from RFC 6749 5.2 / 4.1.2.1, RFC 6750, RFC 7009, RFC 8707, RFC 8628 and OIDC
/// Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    SlowDown,
    /// RFC 8628 3.5: the user has not yet answered on the device page.
    AuthorizationPending,
    /// RFC 8628 3.5: the device code expired before it was exchanged.
    ExpiredToken,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// OIDC Core 3.1.2.6: request objects (`request`) are not supported.
    RequestNotSupported,
    /// RFC 7591 3.2.2: a redirect URI of a registration is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 3.2.2: a field of a registration is not acceptable (the description names it).
    InvalidClientMetadata,
    /// RFC 9449 5.4/7.1: the DPoP proof is missing where required, or invalid.
    InvalidDpopProof,
    /// RFC 9449 8: the DPoP proof must carry the server's current nonce (sent in `DPoP-Nonce`).
    UseDpopNonce,
    /// OpenID Connect Core Unmet Authentication Requirements 1.0: the `acr_values` asked for
    /// cannot be met (the user has no second factor).
    UnmetAuthenticationRequirements,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::SlowDown => "slow_down",
            Self::AuthorizationPending => "authorization_pending",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

/// A protocol error: `code` and `description` go on the wire, `detail` only to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    pub detail: Option<String>,
    /// Seconds a rate-limited caller should wait before trying again.
    pub retry_after: Option<u64>,
    /// The refusal of a DPoP-bound token or of its proof: challenged with the `DPoP` scheme
    /// (RFC 9449 7.1) rather than `Bearer`.
    pub dpop_challenge: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            detail: None,
            retry_after: None,
            dpop_challenge: false,
        }
    }
    pub fn with_dpop_challenge(mut self) -> Self {
        self.dpop_challenge = true;
        self
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }
    pub fn server_error(detail: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
        .with_detail(detail)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crypto_failure_is_the_servers_fault_not_storage() {
        let e = OAuthError::from(CryptoError("the OS random number generator failed".into()));
        assert_eq!(e.code, ErrorCode::ServerError);
        assert!(
            e.detail
                .unwrap_or_default()
                .contains("random number generator")
        );
        let e = ServiceError::from(CryptoError("argon2".into()));
        assert!(matches!(e, ServiceError::Internal(_)));
    }

    #[test]
    fn every_field_noted_is_reported_in_order() {
        let mut invalid = FieldErrors::default();
        let n = invalid.keep("limit", "x".parse::<i64>());
        let s = invalid.keep("since", "10".parse::<i64>());
        invalid.add("cursor", "cursor is not valid");
        assert_eq!((n, s), (None, Some(10)));
        let Err(ServiceError::InvalidFields(fields)) = invalid.finish_with(n.zip(s)) else {
            panic!("refused");
        };
        let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["limit", "cursor"]);
        assert!(fields[0].message.contains("invalid digit"), "{fields:?}");
    }

    #[test]
    fn nothing_noted_hands_back_what_was_kept() {
        let mut invalid = FieldErrors::default();
        let n = invalid.keep("limit", "7".parse::<i64>());
        assert!(invalid.is_empty());
        assert_eq!(invalid.finish_with(n), Ok(7));
        assert_eq!(FieldErrors::default().finish(), Ok(()));
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server's storage is unavailable; try again shortly",
        )
        .with_detail(e.to_string())
    }
}

/// A cryptographic operation or the OS random number generator failed: a fault of this
/// server, never of storage or of the client. The text names what failed; it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError(pub String);

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cryptographic failure: {}", self.0)
    }
}

impl std::error::Error for CryptoError {}

impl From<CryptoError> for OAuthError {
    fn from(e: CryptoError) -> Self {
        OAuthError::server_error(e.to_string())
    }
}

impl From<CryptoError> for ServiceError {
    fn from(e: CryptoError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Storage failures as the core sees them; `grantor-store` converts driver errors into these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A uniqueness rule was broken (the text names what already exists).
    Conflict(String),
    /// Anything else the backend reported; logged, never shown.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict(what) => write!(f, "{what} already exists"),
            Self::Backend(detail) => write!(f, "storage error: {detail}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Errors of management operations (CLI, console, management API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    NotFound(String),
    Conflict(String),
    Forbidden(String),
    Invalid(String),
    /// Fields of one request that are not valid, each with the reason, so a form or an API
    /// caller can fix all of them at once.
    InvalidFields(Vec<FieldError>),
    Unavailable(String),
    /// A fault of this server (the text is logged, never shown).
    Internal(String),
    /// A rehearsal ([`crate::model::Caller::rehearsal`]) got as far as writing: the caller
    /// may make this request now. Nothing was written.
    Rehearsed,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "{what} not found"),
            Self::Conflict(msg) | Self::Forbidden(msg) | Self::Invalid(msg) => f.write_str(msg),
            Self::InvalidFields(errors) => {
                let reasons: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                f.write_str(&reasons.join("; "))
            }
            Self::Unavailable(_) => f.write_str("storage is unavailable"),
            Self::Internal(_) => f.write_str("the server could not complete the request"),
            Self::Rehearsed => f.write_str("the request may be made"),
        }
    }
}

impl std::error::Error for ServiceError {}

/// One invalid field of a request, named as the request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The invalid fields of one request, gathered while checking it, so the caller hears of
/// every one at once rather than fixing them one refusal at a time. Fields are named as the
/// management API's bodies name them: `name`, `expires_in`, `scopes[1].name` (entries of a
/// list of objects by index, from 0; a list of plain values as a whole, `scopes`).
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Notes that `field` is not valid, and why.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// The value of a field's own check, or `None` with its reason noted against `field`.
    pub fn keep<T, E: fmt::Display>(&mut self, field: &str, checked: Result<T, E>) -> Option<T> {
        checked.map_err(|e| self.add(field, e.to_string())).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Nothing noted: go on. Else every field noted, as [`ServiceError::InvalidFields`].
    pub fn finish(self) -> Result<(), ServiceError> {
        self.finish_with(Some(()))
    }

    /// As [`FieldErrors::finish`], handing back the values [`FieldErrors::keep`] kept
    /// (`a.zip(b)` for several); a value is missing only when its field was noted.
    pub fn finish_with<T>(self, kept: Option<T>) -> Result<T, ServiceError> {
        match kept {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(ServiceError::InvalidFields(self.0)),
        }
    }
}

impl ServiceError {
    /// One invalid field, for a check that has only one.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidFields(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::Backend(detail) => Self::Unavailable(detail),
        }
    }
}
