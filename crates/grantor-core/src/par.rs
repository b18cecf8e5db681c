//! Pushed authorization requests (RFC 9126): an app posts its authorization request to
//! `/oauth2/par`, authenticated as at the token endpoint, and sends the browser to the
//! authorization endpoint with only its `client_id` and the `request_uri` it got back. The
//! parameters never pass through the browser, so they cannot be read or altered there, and
//! they are checked (by the same [`Provider::parse_authorization`]) before the user sees
//! anything.
//!
//! A `request_uri` is 256 random bits, stored hashed, lives [`REQUEST_URI_TTL`] seconds and
//! works once, for the app that pushed it.

use crate::authorize::AuthorizeError;
use crate::client_auth::ClientCredentials;
use crate::params::Params;
use crate::provider::Provider;
use crate::store::{PushedRequestRecord, PushedRequestStore, Registry, ReplayStore};
use crate::{ErrorCode, OAuthError, secret};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// RFC 9126 2.2: the prefix of every `request_uri` this server issues.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Seconds a pushed request may wait for the browser: long enough for a redirect, short
/// enough that a leaked one is soon worthless (RFC 9126 2.2 suggests 5 to 600).
pub const REQUEST_URI_TTL: i64 = 60;
/// Unused pushed requests an app may have at once: a bound on what one app's secret can
/// make the server store.
pub const MAX_LIVE_PER_APP: i64 = 1_000;

/// Client-authentication parameters, which are not part of the authorization request and are
/// not kept.
const CLIENT_AUTH_PARAMS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// The answer to a push (RFC 9126 2.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushedRequest {
    pub request_uri: String,
    pub expires_in: i64,
}

/// What an authorization-endpoint error is at the PAR endpoint: never a redirect (the app is
/// right there to read the answer), the same error as JSON.
fn as_json_error(e: AuthorizeError) -> OAuthError {
    match e {
        AuthorizeError::Page(e) => e,
        AuthorizeError::Redirect(r) => r.error,
    }
}

fn hash_request_uri(request_uri: &str) -> String {
    secret::hash(request_uri)
}

impl<S: Registry + PushedRequestStore + ReplayStore> Provider<S> {
    /// `POST /oauth2/par`: authenticates the app, checks its authorization request exactly as
    /// the authorization endpoint does, and keeps it under a new `request_uri`.
    pub async fn push_authorization(
        &self,
        creds: &ClientCredentials,
        params: &Params,
    ) -> Result<PushedRequest, OAuthError> {
        let client = self.authenticate_client(creds).await?;
        let client_id = client.app.client_id.as_str();
        if params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request(
                "request_uri is not allowed in a pushed authorization request",
            ));
        }
        if params.get("request").is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        // Credentials in the Authorization header leave client_id out of the body; the
        // stored request always names its app, as the authorization endpoint needs.
        let mut pairs: Vec<(String, String)> = params
            .pairs()
            .iter()
            .filter(|(name, _)| !CLIENT_AUTH_PARAMS.contains(&name.as_str()))
            .filter(|(name, _)| name != "client_id")
            .cloned()
            .collect();
        pairs.insert(0, ("client_id".to_string(), client_id.to_string()));
        let request = Params::new(pairs).map_err(OAuthError::from)?;
        self.parse_authorization(&request)
            .await
            .map_err(as_json_error)?;
        let bytes: [u8; 32] = secret::random_bytes()?;
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let now = self.clock.now();
        let record = PushedRequestRecord {
            request_uri_hash: hash_request_uri(&request_uri),
            client_id: client_id.to_string(),
            params: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(request.pairs())
                .finish(),
            created_at: now,
            expires_at: now + REQUEST_URI_TTL,
        };
        if !self
            .store
            .insert_pushed_request(&record, MAX_LIVE_PER_APP, now)
            .await?
        {
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "this app has too many pushed authorization requests waiting; use or let them expire",
            ));
        }
        Ok(PushedRequest {
            request_uri,
            expires_in: REQUEST_URI_TTL,
        })
    }

    /// The authorization endpoint's side: the parameters pushed under `request_uri` by the
    /// app `client_id`, used up by this call. Unknown, expired, used and another app's all
    /// get the same answer, shown as a page (the redirect URI is not known to be good).
    pub async fn take_pushed_authorization(
        &self,
        client_id: &str,
        request_uri: &str,
    ) -> Result<Params, AuthorizeError> {
        let now = self.clock.now();
        let unusable = || {
            AuthorizeError::Page(OAuthError::invalid_request(
                "the request_uri is unknown, expired, already used or not this app's; \
                 go back to the app and try again",
            ))
        };
        if !request_uri.starts_with(REQUEST_URI_PREFIX) {
            return Err(unusable());
        }
        let record = self
            .store
            .consume_pushed_request(&hash_request_uri(request_uri), client_id, now)
            .await?
            .ok_or_else(unusable)?;
        Params::parse(record.params.as_bytes(), crate::params::MAX_FORM_BYTES)
            .map_err(|e| AuthorizeError::Page(e.into()))
    }

    /// Whether the installation refuses authorization requests that were not pushed.
    pub fn requires_pushed_requests(&self) -> bool {
        self.settings.require_pushed_authorization_requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_auth::AuthMethod;
    use crate::model::AppType;
    use crate::testing::{REDIRECT_URI, World, new_app, ok};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(pairs: &[(&str, &str)]) -> Params {
        ok(Params::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        ))
    }

    fn native(client_id: &str) -> ClientCredentials {
        ClientCredentials {
            client_id: client_id.into(),
            secret: None,
            assertion: None,
            method: AuthMethod::None,
        }
    }

    fn request(client_id: &str, scope: &str) -> Params {
        params(&[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    }

    async fn native_app(w: &World) -> String {
        let app = w
            .app_with(new_app(AppType::Native, "Cli", &["openid", "profile"]))
            .await;
        app.app.client_id.clone()
    }

    fn refused_code<T: std::fmt::Debug>(r: Result<T, OAuthError>) -> ErrorCode {
        match r {
            Err(e) => e.code,
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    fn page<T: std::fmt::Debug>(r: Result<T, AuthorizeError>) -> OAuthError {
        match r {
            Err(AuthorizeError::Page(e)) => e,
            other => panic!("expected an error page, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_pushed_request_works_once_for_its_app() {
        let w = World::new().await;
        let id = native_app(&w).await;
        let other = native_app(&w).await;
        let pushed = ok(w
            .provider
            .push_authorization(&native(&id), &request(&id, "openid profile"))
            .await);
        assert_eq!(pushed.expires_in, REQUEST_URI_TTL);
        let random = pushed.request_uri.trim_start_matches(REQUEST_URI_PREFIX);
        assert_eq!(random.len(), 43, "256 bits in base64url");

        // Another app cannot use it, and trying does not use it up.
        let stolen = w
            .provider
            .take_pushed_authorization(&other, &pushed.request_uri)
            .await;
        assert_eq!(page(stolen).code, ErrorCode::InvalidRequest);

        let taken = ok(w
            .provider
            .take_pushed_authorization(&id, &pushed.request_uri)
            .await);
        assert_eq!(taken.get("client_id"), Some(id.as_str()));
        assert_eq!(taken.get("scope"), Some("openid profile"));
        assert_eq!(taken.get("state"), Some("xyz"));
        assert!(
            ok(w.provider.parse_authorization(&taken).await)
                .code_challenge
                .is_some()
        );

        let again = w
            .provider
            .take_pushed_authorization(&id, &pushed.request_uri)
            .await;
        assert_eq!(page(again).code, ErrorCode::InvalidRequest);
    }

    #[tokio::test]
    async fn a_pushed_request_expires() {
        let w = World::new().await;
        let id = native_app(&w).await;
        let pushed = ok(w
            .provider
            .push_authorization(&native(&id), &request(&id, "openid"))
            .await);
        w.clock.advance(REQUEST_URI_TTL);
        let late = w
            .provider
            .take_pushed_authorization(&id, &pushed.request_uri)
            .await;
        assert_eq!(page(late).code, ErrorCode::InvalidRequest);
    }

    #[tokio::test]
    async fn pushes_are_checked_as_authorization_requests_and_answered_as_errors() {
        let w = World::new().await;
        let id = native_app(&w).await;
        let push = |p: Params| {
            let creds = native(&id);
            let provider = &w.provider;
            async move { provider.push_authorization(&creds, &p).await }
        };
        assert_eq!(
            refused_code(push(request(&id, "email")).await),
            ErrorCode::InvalidScope
        );
        let no_pkce = params(&[
            ("client_id", &id),
            ("response_type", "code"),
            ("scope", "openid"),
        ]);
        assert_eq!(refused_code(push(no_pkce).await), ErrorCode::InvalidRequest);
        let elsewhere = params(&[
            ("client_id", &id),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.test/cb"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
        ]);
        assert_eq!(
            refused_code(push(elsewhere).await),
            ErrorCode::InvalidRequest
        );
        let mut nested = request(&id, "openid").pairs().to_vec();
        nested.push(("request_uri".into(), format!("{REQUEST_URI_PREFIX}x")));
        assert_eq!(
            refused_code(push(ok(Params::new(nested))).await),
            ErrorCode::InvalidRequest
        );
        let mut jar = request(&id, "openid").pairs().to_vec();
        jar.push(("request".into(), "eyJ.e30.".into()));
        assert_eq!(
            refused_code(push(ok(Params::new(jar))).await),
            ErrorCode::RequestNotSupported
        );
    }

    #[tokio::test]
    async fn confidential_apps_must_authenticate() {
        let w = World::new().await;
        let owner = World::signed_in(&w.owner);
        let made = ok(w
            .manager
            .create_app(
                &owner,
                &w.org.name,
                new_app(AppType::Web, "Web", &["openid"]),
            )
            .await);
        let id = made.app.client_id.clone();
        let without = w
            .provider
            .push_authorization(&native(&id), &request(&id, "openid"))
            .await;
        assert_eq!(refused_code(without), ErrorCode::InvalidClient);
        let wrong = ClientCredentials {
            client_id: id.clone(),
            secret: Some("not-the-secret".into()),
            assertion: None,
            method: AuthMethod::Post,
        };
        let wrong = w
            .provider
            .push_authorization(&wrong, &request(&id, "openid"))
            .await;
        assert_eq!(refused_code(wrong), ErrorCode::InvalidClient);
        let right = ClientCredentials {
            client_id: id.clone(),
            secret: made.client_secret.clone(),
            assertion: None,
            method: AuthMethod::Basic,
        };
        // Credentials in the header: the body need not name the app; the secret is not kept.
        let body = params(&[("response_type", "code"), ("scope", "openid")]);
        let pushed = ok(w.provider.push_authorization(&right, &body).await);
        let taken = ok(w
            .provider
            .take_pushed_authorization(&id, &pushed.request_uri)
            .await);
        assert_eq!(taken.get("client_id"), Some(id.as_str()));
        assert_eq!(taken.get("client_secret"), None);
    }

    #[tokio::test]
    async fn each_app_has_a_bounded_number_waiting() {
        let w = World::new().await;
        let id = native_app(&w).await;
        for _ in 0..MAX_LIVE_PER_APP {
            ok(w.provider
                .push_authorization(&native(&id), &request(&id, "openid"))
                .await);
        }
        let over = w
            .provider
            .push_authorization(&native(&id), &request(&id, "openid"))
            .await;
        assert_eq!(refused_code(over), ErrorCode::TemporarilyUnavailable);
        w.clock.advance(REQUEST_URI_TTL);
        ok(w.provider
            .push_authorization(&native(&id), &request(&id, "openid"))
            .await);
    }
}
