//! The error types of the core: protocol errors (RFC 6749 and friends), service errors for
//! management operations, and storage errors as seen by the core.
//!
//! Each carries a public description and, where useful, a private `detail` that is logged but
//! never sent. Turning them into responses happens in one place, `grantor-server`'s `error.rs`.

use std::fmt;

/// Error codes from RFC 6749 5.2 / 4.1.2.1, RFC 6750, RFC 7009, RFC 8707 and OIDC Core.
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
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
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
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
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
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            detail: None,
            retry_after: None,
        }
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
        }
    }
}

impl std::error::Error for ServiceError {}

/// One invalid field of a request, named as the request names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
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
