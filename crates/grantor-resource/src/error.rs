use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt;

/// Why a request was refused, answered per RFC 6750 section 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// No bearer token: a bare challenge, without an error code (RFC 6750 3.1).
    Missing,
    /// The token is malformed, expired, revoked, for another audience, or badly signed.
    Invalid(String),
    /// The token lacks the scope this route needs.
    InsufficientScope(String),
    /// Grantor could not be reached to verify the token.
    Unavailable(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("a bearer token is required"),
            Self::Invalid(why) => write!(f, "invalid token: {why}"),
            Self::InsufficientScope(scope) => write!(f, "the token lacks the {scope} scope"),
            Self::Unavailable(why) => write!(f, "tokens cannot be verified now: {why}"),
        }
    }
}

impl std::error::Error for TokenError {}

fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let description = self.to_string();
        let (status, code, challenge) = match &self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "Bearer realm=\"api\"".to_string(),
            ),
            Self::Invalid(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                format!(
                    "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&description)
                ),
            ),
            Self::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"{}\"",
                    quoted(scope)
                ),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Bearer realm=\"api\"".to_string(),
            ),
        };
        let mut response = (
            status,
            Json(serde_json::json!({"error": code, "error_description": description})),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
