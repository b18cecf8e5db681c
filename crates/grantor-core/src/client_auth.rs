//! Client authentication at the token, introspection, revocation, PAR and device
//! authorization endpoints: `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (RFC 7523 2.2, OIDC Core 9) and `none` for native apps.

use crate::app_keys;
use crate::jose::{self, Alg, Jwk};
use crate::model::App;
use crate::params::Params;
use crate::{OAuthError, secret};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
    /// A JWT signed with one of the app's keys (`client_assertion`).
    PrivateKeyJwt,
    None,
}

/// RFC 7523 2.2: the one `client_assertion_type` accepted.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertions longer than this are refused before they are parsed: a JWT signed with a
/// 4096-bit RSA key and ordinary claims is under 1.5 KiB.
pub const MAX_ASSERTION: usize = 8 * 1024;

/// The longest lifetime (`exp` minus now, or minus `iat`) an assertion may claim: a short
/// one bounds how long its `jti` must be remembered.
pub const MAX_ASSERTION_LIFETIME: i64 = 300;

/// Clock skew allowed on `iat` and `nbf`.
const LEEWAY: i64 = 30;

/// The longest `jti` accepted (it is stored until the assertion expires).
pub const MAX_JTI: usize = 256;

/// What the client presented; the secret is never logged.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// The signed assertion (`private_key_jwt`); never logged.
    pub assertion: Option<String>,
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
    let assertion_type = params.get("client_assertion_type");
    let assertion = params.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if authorization.is_some() || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not a client assertion and a secret",
            ));
        }
        return extract_assertion(body_id, assertion_type, assertion);
    }
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
            assertion: None,
            method: AuthMethod::Basic,
        });
    }
    let client_id = body_id
        .ok_or_else(|| failed("client authentication is required"))?
        .to_string();
    Ok(ClientCredentials {
        client_id,
        secret: body_secret.map(str::to_string),
        assertion: None,
        method: if body_secret.is_some() {
            AuthMethod::Post
        } else {
            AuthMethod::None
        },
    })
}

/// The claims of a client assertion that are checked (RFC 7523 3).
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(a) => a == wanted,
            Self::Many(all) => all.iter().any(|a| a == wanted),
        }
    }
}

/// `client_assertion_type` + `client_assertion`: the app is the assertion's `sub` (read
/// here unverified, only to find the app; [`check_assertion`] verifies it).
fn extract_assertion(
    body_id: Option<&str>,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
) -> Result<ClientCredentials, OAuthError> {
    let (Some(kind), Some(assertion)) = (assertion_type, assertion) else {
        return Err(OAuthError::invalid_request(
            "client_assertion and client_assertion_type go together",
        ));
    };
    if kind != JWT_BEARER_ASSERTION {
        return Err(failed(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
    }
    if assertion.len() > MAX_ASSERTION {
        return Err(failed("the client assertion is too long"));
    }
    let payload = assertion
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or_else(|| failed("the client assertion is not a signed JWT"))?;
    let claims: AssertionClaims = serde_json::from_slice(&payload)
        .map_err(|_| failed("the client assertion's claims are not valid"))?;
    let sub = claims
        .sub
        .ok_or_else(|| failed("the client assertion has no sub (the app's client_id)"))?;
    if body_id.is_some_and(|b| b != sub) {
        return Err(failed("client_id differs from the client assertion's sub"));
    }
    Ok(ClientCredentials {
        client_id: sub,
        secret: None,
        assertion: Some(assertion.to_string()),
        method: AuthMethod::PrivateKeyJwt,
    })
}

/// What a verified assertion leaves to check against the replay store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    pub expires_at: i64,
}

/// Verifies a client assertion (RFC 7523 3, OIDC Core 9) with the app's keys: signature by
/// the key its header names (ES256 or RS256), `iss` = `sub` = the client_id, `aud` the
/// token endpoint or the issuer, `exp` in the future but at most
/// [`MAX_ASSERTION_LIFETIME`] away, `iat` and `nbf` not in the future, a `jti`. Single use
/// of the `jti` is the caller's, across nodes.
pub fn check_assertion(
    client_id: &str,
    assertion: &str,
    keys: &[Jwk],
    audiences: &[&str],
    now: i64,
) -> Result<VerifiedAssertion, OAuthError> {
    let bad = |why: &str| failed("client authentication failed").with_detail(why.to_string());
    let (_, payload) = jose::verify_by(assertion, &[Alg::ES256, Alg::RS256], |header| {
        let jwk = app_keys::select(keys, header.kid.as_deref())?;
        app_keys::verifying_key(jwk, &header.alg)
    })
    .map_err(|e| bad(&format!("client assertion: {e}")))?;
    let claims: AssertionClaims =
        serde_json::from_slice(&payload).map_err(|_| bad("claims are not valid"))?;
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return Err(bad("iss and sub must both be the client_id"));
    }
    if !claims
        .aud
        .as_ref()
        .is_some_and(|aud| audiences.iter().any(|a| aud.contains(a)))
    {
        return Err(bad("aud is neither the token endpoint nor the issuer"));
    }
    let exp = claims.exp.ok_or_else(|| bad("exp is required"))?;
    if exp <= now {
        return Err(bad("the assertion has expired"));
    }
    if exp - now > MAX_ASSERTION_LIFETIME
        || claims
            .iat
            .is_some_and(|iat| exp - iat > MAX_ASSERTION_LIFETIME)
    {
        return Err(bad("the assertion lives longer than 300 seconds"));
    }
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY)
        || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY)
    {
        return Err(bad("the assertion is not valid yet"));
    }
    let jti = claims.jti.ok_or_else(|| bad("jti is required"))?;
    if jti.is_empty() || jti.len() > MAX_JTI {
        return Err(bad("jti must be 1 to 256 characters"));
    }
    Ok(VerifiedAssertion {
        jti,
        expires_at: exp,
    })
}

/// Checks presented secrets against the app: confidential apps need their current secret
/// (or the previous one inside its grace period); native apps authenticate with none; apps
/// with keys only with an assertion (checked by [`check_assertion`]).
pub fn authenticate(app: &App, creds: &ClientCredentials, now: i64) -> Result<(), OAuthError> {
    if app.keys.is_some() {
        return Err(failed(
            "this app authenticates with a signed client assertion (private_key_jwt), not a secret",
        ));
    }
    if creds.method == AuthMethod::PrivateKeyJwt {
        return Err(failed(
            "this app has no keys registered; authenticate with its app secret",
        ));
    }
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

    mod assertions {
        use super::super::*;
        use super::params;
        use crate::Clock;
        use crate::jose::SigningKey;
        use crate::model::{AppKeys, AppType};
        use crate::testing::{World, new_app, ok};
        use serde_json::{Value, json};

        const AUD: &str = "https://grantor.test/oauth2/token";
        const NOW: i64 = 1_800_000_000;

        fn key() -> (SigningKey, Vec<Jwk>) {
            let (key, _) = ok(SigningKey::generate(Alg::ES256));
            let jwk = key.jwk.clone();
            (key, vec![jwk])
        }

        fn claims(id: &str) -> Value {
            json!({"iss": id, "sub": id, "aud": AUD, "exp": NOW + 60, "iat": NOW, "jti": "j1"})
        }

        fn check(
            key: &SigningKey,
            keys: &[Jwk],
            claims: &Value,
        ) -> Result<VerifiedAssertion, OAuthError> {
            let jwt = ok(key.sign("JWT", claims));
            check_assertion("app_1", &jwt, keys, &[AUD, "https://grantor.test"], NOW)
        }

        #[test]
        fn each_claim_is_checked() {
            let (k, keys) = key();
            let good = ok(check(&k, &keys, &claims("app_1")));
            assert_eq!(
                good,
                VerifiedAssertion {
                    jti: "j1".into(),
                    expires_at: NOW + 60
                }
            );
            let bad: [(&str, Value); 8] = [
                ("aud", json!("https://elsewhere.test")),
                ("iss", json!("app_2")),
                ("sub", json!("app_2")),
                ("exp", json!(NOW - 1)),
                ("exp", json!(NOW + MAX_ASSERTION_LIFETIME + 1)),
                ("iat", json!(NOW + 120)),
                ("nbf", json!(NOW + 120)),
                ("jti", json!("")),
            ];
            for (claim, value) in bad {
                let mut c = claims("app_1");
                c[claim] = value.clone();
                let err = check(&k, &keys, &c).unwrap_err();
                assert_eq!(err.code, crate::ErrorCode::InvalidClient, "{claim}={value}");
                // The reason is for the log, not for the wire.
                assert_eq!(err.description, "client authentication failed");
            }
            let mut c = claims("app_1");
            if let Some(o) = c.as_object_mut() {
                o.remove("jti");
            }
            assert!(check(&k, &keys, &c).is_err());
            let (other, _) = key();
            assert!(
                check(&other, &keys, &claims("app_1")).is_err(),
                "another key"
            );
        }

        #[test]
        fn extraction_bounds_and_pairs_the_parameters() {
            let (k, _) = key();
            let jwt = ok(k.sign("JWT", &claims("app_1")));
            let p = params(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &jwt),
            ]);
            let c = ok(extract(None, &p));
            assert_eq!(
                (c.client_id.as_str(), c.method),
                ("app_1", AuthMethod::PrivateKeyJwt)
            );
            let long = "a".repeat(MAX_ASSERTION + 1);
            let p = params(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &long),
            ]);
            assert!(extract(None, &p).is_err());
            let p = params(&[("client_assertion", &jwt)]);
            assert_eq!(
                extract(None, &p).unwrap_err().code,
                crate::ErrorCode::InvalidRequest
            );
            let p = params(&[
                ("client_assertion_type", "urn:other"),
                ("client_assertion", &jwt),
            ]);
            assert_eq!(
                extract(None, &p).unwrap_err().code,
                crate::ErrorCode::InvalidClient
            );
            let p = params(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &jwt),
                ("client_id", "app_2"),
            ]);
            assert!(extract(None, &p).is_err(), "client_id differs from sub");
        }

        #[tokio::test]
        async fn a_jti_works_once_and_key_apps_have_no_secret() {
            let w = World::new().await;
            let (k, keys) = key();
            let doc = ok(serde_json::to_string(&json!({"keys": keys})));
            let new = new_app(AppType::Server, "Keyed", &[]).keys(Some(AppKeys::Jwks(doc)));
            let made = w.app_with(new).await;
            assert!(made.app.secret_hash.is_none());
            let id = made.app.client_id.clone();
            let now = w.clock.now();
            let mut c = claims(&id);
            c["aud"] = json!(w.provider.settings.issuer);
            c["exp"] = json!(now + 60);
            c["iat"] = json!(now);
            let jwt = ok(k.sign("JWT", &c));
            let p = params(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &jwt),
            ]);
            let creds = ok(extract(None, &p));
            ok(w.provider.authenticate_client(&creds).await);
            let again = w.provider.authenticate_client(&creds).await.unwrap_err();
            assert_eq!(again.code, crate::ErrorCode::InvalidClient);
            // Nothing but an assertion opens it.
            let bare = ok(extract(None, &params(&[("client_id", &id)])));
            assert!(w.provider.authenticate_client(&bare).await.is_err());
            let op = crate::model::Caller::operator();
            assert!(
                w.manager
                    .regenerate_secret(&op, None, &id, 0)
                    .await
                    .is_err()
            );
        }
    }
}
