//! The client side of OAuth 2.0 and OpenID Connect as the tests speak it over plain HTTP:
//! token requests of each grant, introspection and revocation, the code flow through the
//! sign-in and approval pages, PKCE, and reading what comes back (redirects, JWTs).

use crate::support::{PASSWORD, Seed, TestServer};
use grantor_core::manage::AppWithSecret;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::BTreeMap;

/// The token-exchange grant (RFC 8693), by which API tokens become access tokens.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type of a Grantor API token.
pub const API_TOKEN_TYPE: &str = "urn:grantor:params:oauth:token-type:api-token";

/// An app's Basic credentials; `None` for a public app, which has no secret.
pub fn basic(app: &AppWithSecret) -> Option<(&str, &str)> {
    app.client_secret
        .as_deref()
        .map(|secret| (app.app.client_id.as_str(), secret))
}

/// The protocol endpoints of one Grantor (a [`TestServer`], or a node's base URL), called as
/// a client would. Answers are the status and the JSON body (`Null` when there is none).
pub struct OAuth<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl<'a> OAuth<'a> {
    pub fn at(http: &'a reqwest::Client, base: &'a str) -> Self {
        Self { http, base }
    }

    /// POSTs a form to `path`, with Basic credentials when given; returns status, headers
    /// and body.
    pub async fn post(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, HeaderMap, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// Any request to the token endpoint.
    pub async fn token(&self, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
        let (status, _, body) = self.post("/oauth2/token", basic, form).await;
        (status, body)
    }

    /// The client credentials grant with Basic authentication; `extra` adds parameters
    /// (`scope`, `organization`, `resource`).
    pub async fn client_credentials(
        &self,
        id: &str,
        secret: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.token(Some((id, secret)), &form).await
    }

    /// An access token by client credentials, which must be issued.
    pub async fn access_token(&self, id: &str, secret: &str, extra: &[(&str, &str)]) -> String {
        let (status, body) = self.client_credentials(id, secret, extra).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Swaps a code for tokens as a confidential app.
    pub async fn exchange_code(
        &self,
        basic: Option<(&str, &str)>,
        code: &str,
        redirect: &str,
    ) -> (u16, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
        ];
        self.token(basic, &form).await
    }

    /// Swaps a code for tokens as the public app `client_id`, with a PKCE verifier.
    pub async fn exchange_code_public(
        &self,
        client_id: &str,
        code: &str,
        redirect: &str,
        verifier: &str,
    ) -> (u16, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ];
        self.token(None, &form).await
    }

    /// Uses a refresh token, optionally narrowing the scope.
    pub async fn refresh(
        &self,
        basic: Option<(&str, &str)>,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        self.token(basic, &form).await
    }

    /// The resource owner password grant; `extra` adds parameters (`scope`, `organization`).
    pub async fn password(
        &self,
        basic: Option<(&str, &str)>,
        username: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        form.extend_from_slice(extra);
        self.token(basic, &form).await
    }

    /// A password-grant sign-in as seen from `address`, sent as `X-Forwarded-For` (which
    /// counts only behind a trusted proxy); returns status, headers and body.
    pub async fn password_from(
        &self,
        app: &AppWithSecret,
        address: &str,
        username: &str,
        password: &str,
    ) -> (u16, HeaderMap, Value) {
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .basic_auth(&app.app.client_id, app.client_secret.as_deref())
            .header("x-forwarded-for", address)
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, headers, resp.json().await.unwrap_or(Value::Null))
    }

    /// Exchanges an API token, as a script would: no client authentication.
    pub async fn exchange_api_token(&self, token: &str, scope: Option<&str>) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", token),
            ("subject_token_type", API_TOKEN_TYPE),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        self.token(None, &form).await
    }

    /// Introspects `token`, authenticating with `basic`; returns the answer.
    pub async fn introspect(&self, basic: Option<(&str, &str)>, token: &str) -> Value {
        self.post("/oauth2/introspect", basic, &[("token", token)])
            .await
            .2
    }

    /// Whether introspection, authenticated with `basic`, reports `token` active.
    pub async fn active(&self, basic: Option<(&str, &str)>, token: &str) -> bool {
        self.introspect(basic, token).await["active"] == true
    }

    /// Revokes `token`, authenticating with `basic`; returns the status.
    pub async fn revoke(&self, basic: Option<(&str, &str)>, token: &str) -> u16 {
        self.post("/oauth2/revoke", basic, &[("token", token)])
            .await
            .0
    }
}

impl TestServer {
    /// This server's protocol endpoints.
    pub fn oauth(&self) -> OAuth<'_> {
        OAuth::at(&self.http, &self.issuer)
    }

    /// The client credentials grant for the seed's server app; `extra` adds parameters.
    pub async fn client_credentials(&self, seed: &Seed, extra: &[(&str, &str)]) -> (u16, Value) {
        self.oauth()
            .client_credentials(seed.client_id(), seed.secret(), extra)
            .await
    }

    /// An access token for the seed's server app by client credentials, which must be
    /// issued; `extra` adds parameters.
    pub async fn token_for(&self, seed: &Seed, extra: &[(&str, &str)]) -> String {
        self.oauth()
            .access_token(seed.client_id(), seed.secret(), extra)
            .await
    }

    /// Runs the code flow for `app` as `email` (password [`PASSWORD`]): the authorization
    /// request (state `s1`, nonce `n1`, PKCE when `pkce`), sign-in, approval of every scope
    /// asked, and the code exchange, which must succeed. Returns the token response.
    pub async fn code_flow(
        &self,
        email: &str,
        app: &AppWithSecret,
        redirect: &str,
        scope: &str,
        pkce: bool,
    ) -> Value {
        let proof = Pkce::s256();
        let mut url = authorize_url(
            &app.app.client_id,
            redirect,
            &format!("scope={}&state=s1&nonce=n1", enc(scope)),
        );
        if pkce {
            url = format!("{url}&{}", proof.query());
        }
        let scopes: Vec<&str> = scope.split(' ').collect();
        let location = self
            .http_session()
            .authorize(&url, email, PASSWORD, &scopes)
            .await;
        let code = code_in(&location);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ];
        if pkce {
            form.push(("code_verifier", &proof.verifier));
        }
        let basic = basic(app);
        if basic.is_none() {
            form.push(("client_id", &app.app.client_id));
        }
        let (status, body) = self.oauth().token(basic, &form).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// PKCE (RFC 7636) with S256: a fresh verifier and its challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn s256() -> Self {
        let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
        Self {
            verifier: verifier.secret().clone(),
            challenge: challenge.as_str().to_string(),
        }
    }

    /// The authorization request's parameters for it.
    pub fn query(&self) -> String {
        format!(
            "code_challenge={}&code_challenge_method=S256",
            self.challenge
        )
    }
}

/// URL-encodes a query parameter's value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An authorization request (`response_type=code`) of `client_id` with `redirect`, and more
/// parameters (`scope=...&state=...`), as a path.
pub fn authorize_url(client_id: &str, redirect: &str, more: &str) -> String {
    format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&{more}",
        enc(redirect)
    )
}

/// The query (or, for the implicit grant, fragment) parameters of a redirect.
pub fn redirect_params(location: &str) -> BTreeMap<String, String> {
    let params = match location.split_once('#') {
        Some((_, fragment)) => fragment,
        None => location.split_once('?').map_or("", |(_, q)| q),
    };
    url::form_urlencoded::parse(params.as_bytes())
        .into_owned()
        .collect()
}

/// The authorization code in a redirect back to the app.
pub fn code_in(location: &str) -> String {
    redirect_params(location)
        .remove("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// A JWT's payload, unverified.
pub fn decode_payload(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The key ID in a JWT's header.
pub fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// The key IDs `srv` publishes.
pub async fn jwks_kids(srv: &TestServer) -> Vec<String> {
    srv.get_json("/oauth2/jwks").await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Verifies an access token as a resource server would: `typ`, the signature against the
/// JWKS, issuer, audience and expiry. Returns its claims.
pub async fn verify_claims(srv: &TestServer, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = serde_json::from_value(srv.get_json("/oauth2/jwks").await).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("token's kid is in the JWKS");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&srv.issuer]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("access token verifies")
        .claims
}
