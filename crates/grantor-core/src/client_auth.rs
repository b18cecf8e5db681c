//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, and `none` for native apps.

use crate::model::App;
use crate::params::Params;
use crate::{OAuthError, secret};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
    None,
}

/// What the client presented; the secret is never logged.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Basic credentials longer than this are refused before they are decoded: an app ID and
/// secret encode to well under 200 characters, while a header may hold hundreds of kilobytes.
const MAX_BASIC_CREDENTIALS: usize = 1024;

fn failed(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// Form-urlencoding decode (RFC 6749 2.3.1: Basic credentials are encoded before Base64).
fn form_decode(s: &str) -> Option<String> {
    let plus_free = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_free)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Reads the client's credentials from the `Authorization` header or the body. Using both
/// methods at once is refused (RFC 6749 2.3).
pub fn extract(
    authorization: Option<&str>,
    params: &Params,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(header) = authorization {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(failed(
                "only HTTP Basic client authentication is accepted in the Authorization header",
            ));
        }
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both Basic and client_secret",
            ));
        }
        if rest.len() > MAX_BASIC_CREDENTIALS {
            return Err(failed("the Basic credentials are too long"));
        }
        let decoded = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| failed("the Basic credentials are not valid base64"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| failed("the Basic credentials lack a ':' separator"))?;
        let (Some(id), Some(secret)) = (form_decode(id), form_decode(secret)) else {
            return Err(failed(
                "the Basic credentials are not valid form-urlencoded text",
            ));
        };
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        return Ok(ClientCredentials {
            client_id: id,
            secret: Some(secret),
            method: AuthMethod::Basic,
        });
    }
    let client_id = body_id
        .ok_or_else(|| failed("client authentication is required"))?
        .to_string();
    Ok(ClientCredentials {
        client_id,
        secret: body_secret.map(str::to_string),
        method: if body_secret.is_some() {
            AuthMethod::Post
        } else {
            AuthMethod::None
        },
    })
}

/// Checks presented credentials against the app: confidential apps need their current secret
/// (or the previous one inside its grace period); native apps authenticate with none.
pub fn authenticate(app: &App, creds: &ClientCredentials, now: i64) -> Result<(), OAuthError> {
    match (&app.secret_hash, &creds.secret) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(failed("native apps have no secret; send only client_id")),
        (Some(_), None) => Err(failed("this app must authenticate with its app secret")),
        (Some(current), Some(presented)) => {
            let previous_ok = app.previous_secret_expires_at > now
                && app
                    .previous_secret_hash
                    .as_deref()
                    .is_some_and(|prev| secret::matches(presented, prev));
            if secret::matches(presented, current) || previous_ok {
                Ok(())
            } else {
                Err(failed("client authentication failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn basic_credentials_are_url_decoded_after_base64() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%2Bcret+x"));
        let c = extract(Some(&header), &params(&[])).unwrap();
        assert_eq!(c.client_id, "my app");
        assert_eq!(c.secret.as_deref(), Some("s+cret x"));
        assert_eq!(c.method, AuthMethod::Basic);
    }

    #[test]
    fn overlong_basic_credentials_are_refused_undecoded() {
        let header = format!("Basic {}", "A".repeat(MAX_BASIC_CREDENTIALS + 1));
        let err = extract(Some(&header), &params(&[])).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidClient);
        assert!(err.description.contains("too long"), "{err:?}");
        let longest = format!("app_{}:{}", "0".repeat(32), "s".repeat(700));
        let header = format!("Basic {}", STANDARD.encode(longest));
        assert!(extract(Some(&header), &params(&[])).is_ok());
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = extract(Some(&header), &params(&[("client_secret", "b")])).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
    }

    #[test]
    fn post_and_none_are_told_apart() {
        let c = extract(None, &params(&[("client_id", "a"), ("client_secret", "s")])).unwrap();
        assert_eq!(c.method, AuthMethod::Post);
        let c = extract(None, &params(&[("client_id", "a")])).unwrap();
        assert_eq!(c.method, AuthMethod::None);
        assert!(extract(None, &params(&[])).is_err());
    }
}
