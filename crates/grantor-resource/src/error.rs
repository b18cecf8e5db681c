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
    /// A DPoP-bound token came without a valid proof by its key for this request (RFC 9449
    /// 7.1), or came as a bearer token.
    InvalidDpopProof(String),
    /// A DPoP-bound token presented as a bearer token: refused with the DPoP challenge.
    BoundToKey,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("a bearer token is required"),
            Self::Invalid(why) => write!(f, "invalid token: {why}"),
            Self::InsufficientScope(scope) => write!(f, "the token lacks the {scope} scope"),
            Self::Unavailable(why) => write!(f, "tokens cannot be verified now: {why}"),
            Self::InvalidDpopProof(why) => write!(f, "invalid DPoP proof: {why}"),
            Self::BoundToKey => {
                f.write_str("the token is DPoP-bound: present it with the DPoP scheme and a proof")
            }
        }
    }
}

impl std::error::Error for TokenError {}

/// The algorithms DPoP proofs may use.
const DPOP_ALGS: &str = "ES256 RS256";
/// The DPoP challenge beside a Bearer one.
const DPOP_CHALLENGE: &str = "DPoP algs=\"ES256 RS256\"";

/// An RFC 6750 parameter's value, whose grammar allows neither quotes nor backslashes.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

/// `value` as an RFC 9110 quoted-string's content: backslashes and quotes escaped.
fn escaped(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Without the API's metadata URL: for a [`Caller`](crate::Caller) extracted outside
/// [`RequireToken`](crate::RequireToken), which is what alone knows it.
impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        self.respond(None)
    }
}

impl TokenError {
    /// The refusal; its challenge names the API's metadata URL when there is one (RFC 9728
    /// section 5.1).
    pub(crate) fn respond(self, resource_metadata: Option<&str>) -> Response {
        let description = self.to_string();
        let (status, code, mut challenge) = match &self {
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
            Self::InvalidDpopProof(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_dpop_proof",
                format!(
                    "DPoP algs=\"{DPOP_ALGS}\", error=\"invalid_dpop_proof\", error_description=\"{}\"",
                    quoted(&description)
                ),
            ),
            Self::BoundToKey => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                format!(
                    "DPoP algs=\"{DPOP_ALGS}\", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&description)
                ),
            ),
        };
        if let Some(url) = resource_metadata {
            challenge.push_str(&format!(", resource_metadata=\"{}\"", escaped(url)));
        }
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
        // RFC 9449 7.1: an API that takes both schemes says so beside the Bearer challenge.
        if matches!(self, Self::Missing | Self::Invalid(_)) {
            response.headers_mut().append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(DPOP_CHALLENGE),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.example.com/.well-known/oauth-protected-resource/v1";

    fn challenge(error: TokenError, url: Option<&str>) -> (u16, String) {
        let response = error.respond(url);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        (response.status().as_u16(), challenge.to_string())
    }

    #[test]
    fn every_challenge_names_the_metadata_url_after_rfc_6750s_parameters() {
        assert_eq!(
            challenge(TokenError::Missing, Some(URL)),
            (
                401,
                format!("Bearer realm=\"api\", resource_metadata=\"{URL}\"")
            )
        );
        assert_eq!(
            challenge(
                TokenError::Invalid("the token has expired".into()),
                Some(URL)
            ),
            (
                401,
                format!(
                    "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"invalid token: the token has expired\", resource_metadata=\"{URL}\""
                )
            )
        );
        assert_eq!(
            challenge(
                TokenError::InsufficientScope("trades:write".into()),
                Some(URL)
            ),
            (
                403,
                format!(
                    "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"trades:write\", resource_metadata=\"{URL}\""
                )
            )
        );
        assert_eq!(
            challenge(TokenError::Missing, None),
            (401, "Bearer realm=\"api\"".to_string())
        );
    }

    #[test]
    fn values_stay_inside_their_quotes() {
        let (_, with_quote) = challenge(TokenError::Missing, Some("https://a.example/\"x\\"));
        assert_eq!(
            with_quote,
            r#"Bearer realm="api", resource_metadata="https://a.example/\"x\\""#
        );
        let (_, described) = challenge(TokenError::Invalid("a \"quoted\" \\ why".into()), None);
        assert!(
            described.ends_with(r#"error_description="invalid token: a quoted  why""#),
            "{described}"
        );
    }
}
