//! DPoP (RFC 9449) end to end: proofs at the token endpoint, tokens bound to the proof's key
//! and accepted by a `grantor-resource` API, userinfo and introspection only with that key,
//! a public app's refresh token and a `dpop_jkt` code bound to it, and server nonces.
//!
//! No Rust OAuth client speaks DPoP, so the client here is plain HTTP, and its proofs are
//! made with `jsonwebtoken`, a JOSE implementation independent of Grantor's.

use crate::both_backends;
use crate::support::oauth::{Pkce, authorize_url, code_in, decode_payload, enc};
use crate::support::resource_server::{listen, serve_on};
use crate::support::{Backend, NATIVE_REDIRECT, PASSWORD, TRADING, TestServer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::{Clock, SystemClock};
use grantor_resource::{Config, Validator};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

both_backends!(
    a_bound_client_credentials_token_works_only_with_proofs_by_its_key,
    the_token_endpoint_refuses_proofs_that_do_not_fit_the_request,
    nonces_when_the_installation_requires_them,
    a_public_apps_code_and_refresh_token_are_bound_to_its_key,
);

/// A client's DPoP key pair, ES256.
struct DpopKey {
    key: EncodingKey,
    jwk: Jwk,
}

static JTI: AtomicU64 = AtomicU64::new(0);

impl DpopKey {
    fn new() -> Self {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = EncodingKey::from_ec_der(der.as_ref());
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        Self { key, jwk }
    }

    fn thumbprint(&self) -> String {
        self.jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// A fresh proof for `htm` `htu`; `changes` replaces claims (`null` removes one).
    fn proof_with(&self, htm: &str, htu: &str, changes: Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let jti = format!(
            "jti-{}-{}",
            std::process::id(),
            JTI.fetch_add(1, Ordering::Relaxed)
        );
        let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": SystemClock.now()});
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                v => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), v.clone()),
            };
        }
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    fn proof(&self, htm: &str, htu: &str) -> String {
        self.proof_with(htm, htu, json!({}))
    }

    /// A proof for a request that presents `access_token`.
    fn proof_for(&self, htm: &str, htu: &str, access_token: &str) -> String {
        self.proof_with(htm, htu, json!({"ath": ath(access_token)}))
    }
}

fn ath(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// POSTs a form to the token endpoint with these `DPoP` headers; status, headers, body.
async fn token_request(
    srv: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> (u16, HeaderMap, Value) {
    let mut req = srv
        .http
        .post(format!("{}/oauth2/token", srv.issuer))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for proof in proofs {
        req = req.header("DPoP", *proof);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// A request with `Authorization: <scheme> <token>` and an optional proof; status, the
/// `WWW-Authenticate` challenges, body.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    authorization: &str,
    proof: Option<&str>,
) -> (u16, Vec<String>, String) {
    let mut req = http
        .request(method, url)
        .header("Authorization", authorization);
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenges = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (status, challenges, resp.text().await.unwrap())
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

async fn a_bound_client_credentials_token_works_only_with_proofs_by_its_key(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let token_url = format!("{}/oauth2/token", srv.issuer);
    let key = DpopKey::new();
    let other = DpopKey::new();

    // Both discovery documents say which algorithms proofs may use.
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta = srv.get_json(doc).await;
        assert_eq!(
            meta["dpop_signing_alg_values_supported"],
            json!(["ES256", "RS256"])
        );
    }

    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "trades:read"),
    ];
    let (status, _, body) =
        token_request(&srv, seed.basic(), &form, &[&key.proof("POST", &token_url)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(decode_payload(&token)["cnf"]["jkt"], key.thumbprint());

    // Introspection shows the binding (RFC 9449 6.2).
    let answer = srv.oauth().introspect(seed.basic(), &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], key.thumbprint());

    // An API behind grantor-resource that knows its public URL.
    let (listener, base) = listen().await;
    serve_on(
        listener,
        Validator::new(Config::new(&srv.issuer, TRADING).with_public_url(&base)),
    );
    let orders = format!("{base}/orders");
    let http = reqwest::Client::new();
    let get = reqwest::Method::GET;
    let dpop = format!("DPoP {token}");

    let proof = key.proof_for("GET", &orders, &token);
    let (status, _, body) = call(&http, get.clone(), &orders, &dpop, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(seed.client_id()), "{body}");

    // The same proof again: a replay.
    let (status, challenges, _) = call(&http, get.clone(), &orders, &dpop, Some(&proof)).await;
    assert_eq!(status, 401);
    assert!(challenges[0].starts_with("DPoP "), "{challenges:?}");
    assert!(
        challenges[0].contains("error=\"invalid_dpop_proof\""),
        "{challenges:?}"
    );

    let refusals = [
        ("no proof", None),
        (
            "another key's proof",
            Some(other.proof_for("GET", &orders, &token)),
        ),
        (
            "a proof for another method",
            Some(key.proof_for("POST", &orders, &token)),
        ),
        (
            "a proof for another URL",
            Some(key.proof_for("GET", &format!("{base}/orders/new"), &token)),
        ),
        ("a proof without ath", Some(key.proof("GET", &orders))),
        (
            "a proof from ten minutes ago",
            Some(key.proof_with(
                "GET",
                &orders,
                json!({"ath": ath(&token), "iat": SystemClock.now() - 600}),
            )),
        ),
    ];
    for (what, proof) in refusals {
        let (status, challenges, _) =
            call(&http, get.clone(), &orders, &dpop, proof.as_deref()).await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenges[0].contains("error=\"invalid_dpop_proof\""),
            "{what}: {challenges:?}"
        );
    }

    // An API that introspects instead holds the token to its key just the same.
    let (listener, introspecting) = listen().await;
    let config = Config::new(&srv.issuer, TRADING)
        .with_public_url(&introspecting)
        .with_introspection(seed.client_id(), seed.secret(), Duration::from_secs(5));
    serve_on(listener, Validator::new(config));
    let there = format!("{introspecting}/orders");
    let proof = key.proof_for("GET", &there, &token);
    let (status, _, body) = call(&http, get.clone(), &there, &dpop, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    let proof = other.proof_for("GET", &there, &token);
    let (status, _, _) = call(&http, get.clone(), &there, &dpop, Some(&proof)).await;
    assert_eq!(status, 401);

    // A bound token presented as a bearer token is refused, with the DPoP challenge.
    let (status, challenges, _) = call(
        &http,
        get.clone(),
        &orders,
        &format!("Bearer {token}"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].starts_with("DPoP ") && challenges[0].contains("error=\"invalid_token\""),
        "{challenges:?}"
    );

    // Without a proof at the token endpoint the token is a bearer token, as before, and the
    // API's refusals offer both schemes.
    let (status, _, body) = token_request(&srv, seed.basic(), &form, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let bearer = body["access_token"].as_str().unwrap();
    assert!(decode_payload(bearer).get("cnf").is_none());
    let (status, _, _) = call(
        &http,
        get.clone(),
        &orders,
        &format!("Bearer {bearer}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, challenges, _) = call(&http, get, &orders, "Bearer not.a.token", None).await;
    assert_eq!(status, 401);
    assert!(challenges[0].starts_with("Bearer "), "{challenges:?}");
    assert_eq!(challenges[1], "DPoP algs=\"ES256 RS256\"");
}

async fn the_token_endpoint_refuses_proofs_that_do_not_fit_the_request(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let token_url = format!("{}/oauth2/token", srv.issuer);
    let key = DpopKey::new();
    let form = [("grant_type", "client_credentials")];

    let proof = key.proof("POST", &token_url);
    let (status, _, body) = token_request(&srv, seed.basic(), &form, &[&proof]).await;
    assert_eq!(status, 200, "{body}");
    let now = SystemClock.now();
    let cases = [
        ("a replayed proof", proof.clone()),
        ("htm GET", key.proof("GET", &token_url)),
        (
            "htu of another endpoint",
            key.proof("POST", &format!("{}/oauth2/par", srv.issuer)),
        ),
        (
            "iat ten minutes ago",
            key.proof_with("POST", &token_url, json!({"iat": now - 600})),
        ),
        (
            "iat ten minutes ahead",
            key.proof_with("POST", &token_url, json!({"iat": now + 600})),
        ),
        (
            "no jti",
            key.proof_with("POST", &token_url, json!({"jti": null})),
        ),
        (
            "a jti of 200 characters",
            key.proof_with("POST", &token_url, json!({"jti": "j".repeat(200)})),
        ),
        ("not a JWT", "not-a-proof".to_string()),
        ("a proof of 9 KiB", "a".repeat(9 * 1024)),
    ];
    for (what, proof) in cases {
        let (status, headers, body) = token_request(&srv, seed.basic(), &form, &[&proof]).await;
        assert_eq!(
            (status, error_of(&body)),
            (400, "invalid_dpop_proof"),
            "{what}: {body}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{what}");
    }
    // Two DPoP headers, each a good proof.
    let (status, _, body) = token_request(
        &srv,
        seed.basic(),
        &form,
        &[
            &key.proof("POST", &token_url),
            &key.proof("POST", &token_url),
        ],
    )
    .await;
    assert_eq!(
        (status, error_of(&body)),
        (400, "invalid_dpop_proof"),
        "{body}"
    );
}

async fn nonces_when_the_installation_requires_them(backend: Backend) {
    let srv = TestServer::spawn_with(backend, std::sync::Arc::new(SystemClock), |c| {
        c.require_dpop_nonce = true;
    })
    .await;
    let seed = srv.seed("acme").await;
    let token_url = format!("{}/oauth2/token", srv.issuer);
    let key = DpopKey::new();
    let form = [("grant_type", "client_credentials")];

    // RFC 9449 8: the first proof has no nonce; the answer names the one to use.
    let (status, headers, body) =
        token_request(&srv, seed.basic(), &form, &[&key.proof("POST", &token_url)]).await;
    assert_eq!((status, error_of(&body)), (400, "use_dpop_nonce"), "{body}");
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_string();

    let stale = key.proof_with("POST", &token_url, json!({"nonce": "an-old-nonce"}));
    let (status, _, body) = token_request(&srv, seed.basic(), &form, &[&stale]).await;
    assert_eq!((status, error_of(&body)), (400, "use_dpop_nonce"), "{body}");

    let proof = key.proof_with("POST", &token_url, json!({"nonce": nonce}));
    let (status, headers, body) = token_request(&srv, seed.basic(), &form, &[&proof]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert!(headers.contains_key("dpop-nonce"));
}

/// Signs the member in with the native app and returns the authorization code, with
/// `dpop_jkt` in the request when given.
async fn native_code(
    srv: &TestServer,
    client_id: &str,
    email: &str,
    jkt: &str,
    pkce: &Pkce,
) -> String {
    let url = authorize_url(
        client_id,
        NATIVE_REDIRECT,
        &format!(
            "scope={}&state=s1&nonce=n1&{}&dpop_jkt={jkt}",
            enc("openid profile"),
            pkce.query()
        ),
    );
    let location = srv
        .http_session()
        .authorize(&url, email, PASSWORD, &["openid", "profile"])
        .await;
    code_in(&location)
}

async fn a_public_apps_code_and_refresh_token_are_bound_to_its_key(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let s = srv.seed_sign_in("acme").await;
    let client_id = s.native.app.client_id.clone();
    let token_url = format!("{}/oauth2/token", srv.issuer);
    let userinfo = format!("{}/oauth2/userinfo", srv.issuer);
    let key = DpopKey::new();
    let other = DpopKey::new();

    // A code bound with dpop_jkt is refused with another key's proof.
    let pkce = Pkce::s256();
    let code = native_code(&srv, &client_id, &s.email, &key.thumbprint(), &pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", NATIVE_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let (status, _, body) =
        token_request(&srv, None, &form, &[&other.proof("POST", &token_url)]).await;
    assert_eq!(
        (status, error_of(&body)),
        (400, "invalid_dpop_proof"),
        "{body}"
    );

    // With the named key it is exchanged for bound tokens.
    let pkce = Pkce::s256();
    let code = native_code(&srv, &client_id, &s.email, &key.thumbprint(), &pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", NATIVE_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let (status, _, body) =
        token_request(&srv, None, &form, &[&key.proof("POST", &token_url)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();

    // Userinfo takes the token with a proof by its key, and nothing less.
    let http = reqwest::Client::new();
    let get = reqwest::Method::GET;
    let dpop = format!("DPoP {access}");
    let proof = key.proof_for("GET", &userinfo, &access);
    let (status, _, body) = call(&http, get.clone(), &userinfo, &dpop, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    let claims: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claims["sub"], decode_payload(&access)["sub"]);
    let (status, challenges, _) = call(
        &http,
        get.clone(),
        &userinfo,
        &format!("Bearer {access}"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].starts_with("DPoP ") && challenges[0].contains("error=\"invalid_token\""),
        "{challenges:?}"
    );
    for proof in [
        None,
        Some(other.proof_for("GET", &userinfo, &access)),
        Some(key.proof("GET", &userinfo)),
        Some(proof),
    ] {
        let (status, challenges, _) =
            call(&http, get.clone(), &userinfo, &dpop, proof.as_deref()).await;
        assert_eq!(status, 401);
        assert!(
            challenges[0].contains("error=\"invalid_dpop_proof\""),
            "{challenges:?}"
        );
    }

    // The refresh token needs a proof by the same key; refusals burn nothing.
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, _, body) = token_request(&srv, None, &form, &[]).await;
    assert_eq!(
        (status, error_of(&body)),
        (400, "invalid_dpop_proof"),
        "{body}"
    );
    let (status, _, body) =
        token_request(&srv, None, &form, &[&other.proof("POST", &token_url)]).await;
    assert_eq!(
        (status, error_of(&body)),
        (400, "invalid_dpop_proof"),
        "{body}"
    );
    let (status, _, body) =
        token_request(&srv, None, &form, &[&key.proof("POST", &token_url)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        decode_payload(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
    // The rotated refresh token stays bound.
    let next = body["refresh_token"].as_str().unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", next),
    ];
    let (status, _, body) =
        token_request(&srv, None, &form, &[&other.proof("POST", &token_url)]).await;
    assert_eq!(
        (status, error_of(&body)),
        (400, "invalid_dpop_proof"),
        "{body}"
    );
}
