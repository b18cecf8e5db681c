//! `private_key_jwt` (RFC 7523 2.2, OIDC Core 9): apps registered with public keys instead
//! of a secret (API and CLI, a JWKS document or a `jwks_uri`) authenticate with assertions
//! signed by `jsonwebtoken`; every bad assertion is `invalid_client`; a `jti` works once;
//! keys fetched from a URL follow a rotation; an admin client with keys manages through the
//! API. And per app "require PAR" (RFC 9126 6).
//!
//! Neither the `oauth2` nor the `openidconnect` crate makes client assertions (both
//! authenticate with a secret, Basic or in the body), so assertions go over plain HTTP.

use crate::both_backends;
use crate::support::api::OWNER_SCOPES;
use crate::support::oauth::{enc, redirect_params};
use crate::support::{Backend, TestServer, WEB_REDIRECT, cli};
use grantor_core::clock::ManualClock;
use grantor_core::jose::{Alg, SigningKey};
use grantor_core::model::{Caller, Role};
use grantor_core::{Clock, SystemClock};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

both_backends!(
    an_app_with_keys_gets_tokens_by_assertion,
    bad_assertions_are_refused_as_invalid_client,
    the_cli_registers_and_replaces_keys,
    keys_at_a_jwks_uri_are_fetched_and_follow_a_rotation,
    an_admin_client_with_keys_manages_through_the_api,
    an_app_can_require_pushed_requests,
    the_console_wizard_registers_keys_and_require_par,
    a_dynamically_registered_app_authenticates_with_its_keys,
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An app's key pair: the private half as `jsonwebtoken` signs with it, the public half as
/// the app registers it.
struct AppKey {
    kid: String,
    encoding: EncodingKey,
    public: Value,
}

fn new_key(alg: Alg) -> AppKey {
    let (key, der) = SigningKey::generate(alg).unwrap();
    let encoding = match alg {
        Alg::ES256 => EncodingKey::from_ec_der(&der),
        Alg::RS256 => EncodingKey::from_rsa_der(&pkcs1_of(&der)),
    };
    AppKey {
        kid: key.kid.clone(),
        encoding,
        public: serde_json::to_value(&key.jwk).unwrap(),
    }
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 document (its OCTET STRING after the
/// algorithm's NULL parameters), which is what `jsonwebtoken` signs RS256 with.
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    let marker = [0x05, 0x00, 0x04, 0x82];
    let at = pkcs8.windows(4).position(|w| w == marker).unwrap() + 4;
    let len = usize::from(u16::from_be_bytes([pkcs8[at], pkcs8[at + 1]]));
    pkcs8[at + 2..at + 2 + len].to_vec()
}

fn jwks(keys: &[&AppKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()})
}

/// Claims of a good assertion of `client_id` for `aud`, with a fresh `jti`.
fn claims(client_id: &str, aud: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": format!("jti-{}", uuid_like()),
    })
}

fn uuid_like() -> String {
    let (_, der) = SigningKey::generate(Alg::ES256).unwrap();
    der.iter()
        .rev()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sign(key: &AppKey, claims: &Value) -> String {
    sign_with_kid(key, Some(&key.kid), claims)
}

fn sign_with_kid(key: &AppKey, kid: Option<&str>, claims: &Value) -> String {
    let alg = if key.public["kty"] == "EC" {
        Algorithm::ES256
    } else {
        Algorithm::RS256
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// A client_credentials request authenticated by `assertion`.
async fn by_assertion(srv: &TestServer, assertion: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    let (status, _, body) = srv.post_form("/oauth2/token", None, &form).await;
    (status, body)
}

fn assert_invalid_client(answer: (u16, Value), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client", "{what}");
}

/// A server with the seed's organization (and its Trading API) and an owner's API.
async fn spawn(backend: Backend, clock: Arc<dyn Clock>) -> TestServer {
    let srv = TestServer::spawn_with(backend, clock, |_| {}).await;
    let seed = srv.seed("acme").await;
    srv.member(&seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    srv
}

/// Adds `client_id` to acme with its scopes.
async fn add_to_acme(srv: &TestServer, client_id: &str, scopes: &[&str]) {
    srv.state
        .manager
        .add_app_to_organization(
            &Caller::operator(),
            client_id,
            "acme",
            scopes.iter().map(|s| s.to_string()).collect(),
        )
        .await
        .unwrap();
}

async fn an_app_with_keys_gets_tokens_by_assertion(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta = srv.get_json(doc).await;
        let methods = meta["token_endpoint_auth_methods_supported"].to_string();
        assert!(methods.contains("\"private_key_jwt\""), "{doc}: {methods}");
        assert_eq!(
            meta["token_endpoint_auth_signing_alg_values_supported"],
            json!(["ES256", "RS256"]),
            "{doc}"
        );
    }
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let es = new_key(Alg::ES256);
    let rs = new_key(Alg::RS256);
    let created = owner
        .create_app(
            "acme",
            json!({"type": "server", "name": "keyed bot", "scopes": ["trades:read"],
                   "jwks": jwks(&[&es, &rs])}),
        )
        .await
        .expect(201);
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["jwks"]["keys"].as_array().unwrap().len(), 2);
    let id = created["client_id"].as_str().unwrap();
    add_to_acme(&srv, id, &["trades:read"]).await;

    let now = SystemClock.now();
    let token_endpoint = srv.url("/oauth2/token");
    for (key, aud) in [(&es, token_endpoint.as_str()), (&rs, srv.issuer.as_str())] {
        let (status, body) = by_assertion(
            &srv,
            &sign(key, &claims(id, aud, now)),
            &[("client_id", id)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "trades:read");
    }
    // An `aud` list holding the token endpoint also names this server.
    let mut listed = claims(id, "x", now);
    listed["aud"] = json!(["https://elsewhere.example", token_endpoint]);
    assert_eq!(by_assertion(&srv, &sign(&es, &listed), &[]).await.0, 200);

    // Introspection takes the same client authentication.
    let (_, body) = by_assertion(&srv, &sign(&es, &claims(id, &token_endpoint, now)), &[]).await;
    let token = body["access_token"].as_str().unwrap();
    let assertion = sign(&es, &claims(id, &token_endpoint, now));
    let (status, _, body) = srv
        .post_form(
            "/oauth2/introspect",
            None,
            &[
                ("token", token),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true);

    // An app with keys has no secret to regenerate.
    let reply = owner
        .post(&format!("/api/v1/orgs/acme/apps/{id}/secret"), json!({}))
        .await;
    assert!(reply.status == 400 || reply.status == 422, "{}", reply.body);
    // Native apps are public: no keys for them.
    let reply = owner
        .create_app(
            "acme",
            json!({"type": "native", "name": "phone", "redirect_uris": ["com.example.app:/cb"],
                   "jwks": jwks(&[&es])}),
        )
        .await;
    assert_eq!(reply.refused_fields(), ["jwks"]);
    // A private key is never registered.
    let mut private = es.public.clone();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    let reply = owner
        .create_app(
            "acme",
            json!({"type": "server", "name": "leaky", "jwks": {"keys": [private]}}),
        )
        .await;
    assert_eq!(reply.refused_fields(), ["jwks"]);
    assert!(reply.body.to_string().contains("private"), "{}", reply.body);
}

async fn bad_assertions_are_refused_as_invalid_client(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let key = new_key(Alg::ES256);
    let stranger = new_key(Alg::ES256);
    let created = owner
        .create_app(
            "acme",
            json!({"type": "server", "name": "keyed", "scopes": ["trades:read"], "jwks": jwks(&[&key])}),
        )
        .await
        .expect(201);
    let id = created["client_id"].as_str().unwrap().to_string();
    add_to_acme(&srv, &id, &["trades:read"]).await;
    let secret_app = srv
        .added_app(
            "acme",
            crate::support::server_app("secret bot", &["trades:read"]),
        )
        .await;
    let secret_id = secret_app.app.client_id.as_str();
    let aud = srv.url("/oauth2/token");
    let now = SystemClock.now();

    let good = claims(&id, &aud, now);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims(&id, &aud, now);
        change(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            sign(
                &key,
                &with(&|c| c["aud"] = json!("https://other.example/token")),
            ),
        ),
        (
            "wrong iss",
            sign(&key, &with(&|c| c["iss"] = json!("someone-else"))),
        ),
        ("expired", sign(&key, &with(&|c| c["exp"] = json!(now - 5)))),
        (
            "no exp",
            sign(
                &key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
        ),
        (
            "lives too long",
            sign(&key, &with(&|c| c["exp"] = json!(now + 3600))),
        ),
        (
            "issued in the future",
            sign(&key, &with(&|c| c["iat"] = json!(now + 600))),
        ),
        (
            "no jti",
            sign(
                &key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            ),
        ),
        ("unknown kid", sign_with_kid(&key, Some("not-a-kid"), &good)),
        (
            "another key",
            sign_with_kid(&stranger, Some(&key.kid), &good),
        ),
        ("not a JWT", "not.a.jwt".to_string()),
        ("oversized", "a".repeat(9 * 1024)),
    ];
    for (what, assertion) in &cases {
        assert_invalid_client(by_assertion(&srv, assertion, &[]).await, what);
    }
    // A sub naming another app: the secret app, which has no keys.
    let secret_app_assertion = sign(&key, &claims(secret_id, &aud, now));
    assert_invalid_client(
        by_assertion(&srv, &secret_app_assertion, &[]).await,
        "an assertion to a secret app",
    );
    // A secret (or nothing) presented for the keyed app.
    let (status, body) = srv
        .oauth()
        .client_credentials(&id, "gr_sec_guessed", &[])
        .await;
    assert_invalid_client((status, body), "a secret to a key app");
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", &id)],
        )
        .await;
    assert_invalid_client((status, body), "no credentials for a key app");
    // An assertion and a secret at once is a malformed request.
    let assertion = sign(&key, &claims(&id, &aud, now));
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            Some((&id, "x")),
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // The good one works once: its jti is spent on every node.
    let assertion = sign(&key, &claims(&id, &aud, now));
    assert_eq!(by_assertion(&srv, &assertion, &[]).await.0, 200);
    assert_invalid_client(by_assertion(&srv, &assertion, &[]).await, "replayed jti");
}

async fn the_cli_registers_and_replaces_keys(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    let dir = std::env::temp_dir().join(format!("grantor-keys-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = new_key(Alg::ES256);
    let second = new_key(Alg::RS256);
    let first_file = dir.join("first.json");
    let second_file = dir.join("second.json");
    std::fs::write(&first_file, jwks(&[&first]).to_string()).unwrap();
    std::fs::write(&second_file, jwks(&[&second]).to_string()).unwrap();
    let (ok, created, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "cli bot",
            "--scope",
            "trades:read",
            "--jwks-file",
            first_file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(created.get("client_secret").is_none(), "{created}");
    assert!(!stderr.contains("client_secret"), "{stderr}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    let id = created["client_id"].as_str().unwrap();
    add_to_acme(&srv, id, &["trades:read"]).await;
    let aud = srv.url("/oauth2/token");
    let now = SystemClock.now();
    assert_eq!(
        by_assertion(&srv, &sign(&first, &claims(id, &aud, now)), &[])
            .await
            .0,
        200
    );

    let (ok, replaced, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "replace-keys",
            "--app",
            id,
            "--jwks-file",
            second_file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(replaced["jwks"]["keys"][0]["kty"], "RSA");
    // The change reaches the server's cache through the change log within a second.
    crate::support::eventually(
        "the old key is refused",
        std::time::Duration::from_secs(5),
        || async {
            by_assertion(
                &srv,
                &sign(&first, &claims(id, &aud, SystemClock.now())),
                &[],
            )
            .await
            .0 == 401
        },
    )
    .await;
    assert_eq!(
        by_assertion(&srv, &sign(&second, &claims(id, &aud, now)), &[])
            .await
            .0,
        200
    );

    // Both at once, a private key, and a key for a native app are refused.
    let (ok, _, _) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "x",
            "--jwks-file",
            first_file.to_str().unwrap(),
            "--jwks-uri",
            "https://keys.example.com/",
        ],
        None,
    )
    .await;
    assert!(!ok, "--jwks-file and --jwks-uri together");
    let mut private = first.public.clone();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    std::fs::write(&first_file, json!({"keys": [private]}).to_string()).unwrap();
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "leaky",
            "--jwks-file",
            first_file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(!ok && stderr.contains("private"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small local server of one JWKS document, which the test may change.
async fn serve_jwks(doc: Arc<Mutex<Value>>) -> (String, Arc<Mutex<usize>>) {
    let fetches = Arc::new(Mutex::new(0usize));
    let counted = fetches.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let doc = doc.clone();
            let counted = counted.clone();
            async move {
                *counted.lock().unwrap() += 1;
                axum::Json(doc.lock().unwrap().clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/jwks"), fetches)
}

async fn keys_at_a_jwks_uri_are_fetched_and_follow_a_rotation(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = spawn(backend, clock.clone()).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let old = new_key(Alg::ES256);
    let new = new_key(Alg::ES256);
    let doc = Arc::new(Mutex::new(jwks(&[&old])));
    let (uri, fetches) = serve_jwks(doc.clone()).await;
    // The URL must be https and public; loopback passes here only because the issuer is
    // itself on loopback.
    for refused in [
        "http://keys.example.com/jwks",
        "https://10.0.0.7/jwks",
        "https://169.254.169.254/latest/meta-data",
    ] {
        let reply = owner
            .create_app(
                "acme",
                json!({"type": "server", "name": "x", "jwks_uri": refused}),
            )
            .await;
        assert_eq!(reply.refused_fields(), ["jwks_uri"], "{refused}");
    }
    let created = owner
        .create_app(
            "acme",
            json!({"type": "server", "name": "fetching bot", "scopes": ["trades:read"], "jwks_uri": uri}),
        )
        .await
        .expect(201);
    assert_eq!(created["jwks_uri"], uri.as_str());
    assert!(created.get("client_secret").is_none());
    let id = created["client_id"].as_str().unwrap();
    add_to_acme(&srv, id, &["trades:read"]).await;
    let aud = srv.url("/oauth2/token");

    let (status, body) = by_assertion(&srv, &sign(&old, &claims(id, &aud, clock.now())), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        by_assertion(&srv, &sign(&old, &claims(id, &aud, clock.now())), &[])
            .await
            .0,
        200
    );
    assert_eq!(*fetches.lock().unwrap(), 1, "fetched once, then cached");

    // The app rotates: its URL now serves the new key. An unknown kid is looked up again,
    // but not more than once per 30 seconds.
    *doc.lock().unwrap() = jwks(&[&new]);
    let (status, _) = by_assertion(&srv, &sign(&new, &claims(id, &aud, clock.now())), &[]).await;
    assert_eq!(status, 401, "fetched a moment ago: not fetched again yet");
    assert_eq!(*fetches.lock().unwrap(), 1);
    clock.advance(31);
    let (status, body) = by_assertion(&srv, &sign(&new, &claims(id, &aud, clock.now())), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(*fetches.lock().unwrap(), 2);
    // Made-up kids do not make the server fetch in a loop.
    for n in 0..5 {
        let kid = format!("made-up-{n}");
        let answer = by_assertion(
            &srv,
            &sign_with_kid(&new, Some(&kid), &claims(id, &aud, clock.now())),
            &[],
        )
        .await;
        assert_eq!(answer.0, 401);
    }
    assert_eq!(*fetches.lock().unwrap(), 2);
    // After five minutes the keys are fetched again: the old key is gone.
    clock.advance(301);
    let (status, _) = by_assertion(&srv, &sign(&old, &claims(id, &aud, clock.now())), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(*fetches.lock().unwrap(), 3);

    // The owner points the app at other keys through the API: honoured at once.
    let reply = owner
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/acme/apps/{id}/keys"),
            Some(json!({"jwks": jwks(&[&old])})),
        )
        .await
        .expect(200);
    assert_eq!(reply["token_endpoint_auth_method"], "private_key_jwt");
    assert!(reply.get("jwks_uri").is_none());
    let events = owner
        .get("/api/v1/orgs/acme/audit-events")
        .await
        .expect(200)
        .to_string();
    assert!(events.contains("app.replace_keys"), "{events}");
    crate::support::eventually(
        "the registered key is used",
        std::time::Duration::from_secs(5),
        || async {
            by_assertion(&srv, &sign(&old, &claims(id, &aud, clock.now())), &[])
                .await
                .0
                == 200
        },
    )
    .await;
}

async fn an_admin_client_with_keys_manages_through_the_api(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    let key = new_key(Alg::ES256);
    let dir = std::env::temp_dir().join(format!("grantor-admin-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, jwks(&[&key]).to_string()).unwrap();
    let (ok, created, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "provisioner",
            "--scope",
            "grantor:apps",
            "--jwks-file",
            file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
    let id = created["client_id"].as_str().unwrap();
    add_to_acme(&srv, id, &["grantor:apps"]).await;
    let (status, body) = by_assertion(
        &srv,
        &sign(&key, &claims(id, &srv.issuer, SystemClock.now())),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let client = srv.api(body["access_token"].as_str().unwrap());
    let made = client
        .create_app(
            "acme",
            json!({"type": "web", "name": "Portal", "redirect_uris": [WEB_REDIRECT]}),
        )
        .await
        .expect(201);
    assert!(made["client_secret"].is_string());
    // Replacing keys is held to the rule of regenerating a secret: the admin client may
    // rotate its own (its grants are within its scopes), not those of an app holding more.
    let rotated = new_key(Alg::ES256);
    client
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/acme/apps/{id}/keys"),
            Some(json!({"jwks": jwks(&[&rotated])})),
        )
        .await
        .expect(200);
    let trader = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            "acme",
            crate::support::server_app("trader", &["trades:read"]).keys(Some(
                grantor_core::model::AppKeys::Jwks(jwks(&[&key]).to_string()),
            )),
        )
        .await
        .unwrap();
    let trader_id = trader.app.client_id.as_str();
    add_to_acme(&srv, trader_id, &["trades:read"]).await;
    let reply = client
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/acme/apps/{trader_id}/keys"),
            Some(json!({"jwks": jwks(&[&rotated])})),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    crate::support::eventually(
        "the rotated key is used",
        std::time::Duration::from_secs(5),
        || async {
            let assertion = sign(&rotated, &claims(id, &srv.issuer, SystemClock.now()));
            by_assertion(&srv, &assertion, &[]).await.0 == 200
        },
    )
    .await;
}

async fn an_app_can_require_pushed_requests(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let key = new_key(Alg::ES256);
    let created = owner
        .create_app(
            "acme",
            json!({"type": "web", "name": "Strict web", "redirect_uris": [WEB_REDIRECT],
                   "scopes": ["openid"], "jwks": jwks(&[&key]),
                   "require_pushed_authorization_requests": true}),
        )
        .await
        .expect(201);
    assert_eq!(created["require_pushed_authorization_requests"], true);
    let id = created["client_id"].as_str().unwrap();
    let plain = format!(
        "/oauth2/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=s1",
        enc(WEB_REDIRECT)
    );
    let (status, headers, _) = srv.get_raw(&plain, None).await;
    assert_eq!(status, 303);
    let location = headers["location"].to_str().unwrap();
    assert!(location.starts_with(WEB_REDIRECT), "{location}");
    let params = redirect_params(location);
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("pushed"), "{params:?}");
    assert_eq!(params["state"], "s1");
    assert_eq!(params["iss"], srv.issuer);

    // Pushed (authenticated by an assertion at the PAR endpoint), the request goes on to
    // sign-in.
    let aud = srv.url("/oauth2/par");
    let assertion = sign(&key, &claims(id, &aud, SystemClock.now()));
    let (status, _, body) = srv
        .post_form(
            "/oauth2/par",
            None,
            &[
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
                ("response_type", "code"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", "openid"),
                ("state", "s2"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().unwrap();
    let (status, headers, _) = srv
        .get_raw(
            &format!("/oauth2/authorize?client_id={id}&request_uri={}", enc(uri)),
            None,
        )
        .await;
    assert_eq!(status, 303);
    let location = headers["location"].to_str().unwrap();
    assert!(location.starts_with("/login"), "{location}");

    // Turned off, plain requests are accepted again.
    let changed = owner
        .update_app(
            "acme",
            id,
            json!({"require_pushed_authorization_requests": false}),
        )
        .await
        .expect(200);
    assert_eq!(changed["require_pushed_authorization_requests"], false);
    crate::support::eventually(
        "plain requests pass",
        std::time::Duration::from_secs(5),
        || async {
            let (_, headers, _) = srv.get_raw(&plain, None).await;
            headers["location"].to_str().unwrap().starts_with("/login")
        },
    )
    .await;
    // Server apps never use the authorization endpoint.
    let reply = owner
        .create_app(
            "acme",
            json!({"type": "server", "name": "x", "require_pushed_authorization_requests": true}),
        )
        .await;
    assert_eq!(
        reply.refused_fields(),
        ["require_pushed_authorization_requests"]
    );
}

/// The console's *Create App* wizard over plain HTTP: public keys instead of a secret (a bad
/// JWKS refused beside its field), and "require PAR" for a web app, changed in its settings.
async fn the_console_wizard_registers_keys_and_require_par(backend: Backend) {
    use crate::console::{acme, console_path};
    use grantor_core::store::{AppStore, Window};
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let new = console_path(&seed, "/apps/new");
    let mut b = srv.http_session();
    let page = b.get(&format!("/login?return_to={}", enc(&new))).await;
    let page = b.sign_in(&page, &owner, crate::support::PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = b.get(&new).await;
    let csrf = start.field("csrf").unwrap();
    let once = start.field("once").unwrap();
    let key = new_key(Alg::ES256);
    let mut private = key.public.clone();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    let private = json!({"keys": [private]}).to_string();
    let refused = b
        .post(
            &new,
            &[
                ("csrf", csrf.as_str()),
                ("once", once.as_str()),
                ("step", "details"),
                ("app_type", "server"),
                ("name", "Keyed bot"),
                ("auth", "keys"),
                ("jwks", private.as_str()),
                ("jwks_uri", ""),
                ("go", "next"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"jwks-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("private member"), "{}", refused.body);

    let good = jwks(&[&key]).to_string();
    let created = b
        .post(
            &new,
            &[
                ("csrf", csrf.as_str()),
                ("once", once.as_str()),
                ("step", "review"),
                ("app_type", "server"),
                ("name", "Keyed bot"),
                ("scope", "trades:read"),
                ("auth", "keys"),
                ("jwks", good.as_str()),
                ("go", "create"),
            ],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(!created.body.contains("gr_sec_"), "no secret is made");
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    let keyed = apps.iter().find(|a| a.name == "Keyed bot").unwrap();
    assert!(keyed.secret_hash.is_none());
    assert!(keyed.keys.is_some());
    let page = b
        .get(&console_path(&seed, &format!("/apps/{}", keyed.client_id)))
        .await;
    assert!(
        page.body.contains("Public keys (private_key_jwt)"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Regenerate secret"),
        "a key app has no secret"
    );
    add_to_acme(&srv, &keyed.client_id, &["trades:read"]).await;
    let aud = srv.url("/oauth2/token");
    let assertion = sign(&key, &claims(&keyed.client_id, &aud, SystemClock.now()));
    assert_eq!(by_assertion(&srv, &assertion, &[]).await.0, 200);

    let once = b.get(&new).await.field("once").unwrap();
    let created = b
        .post(
            &new,
            &[
                ("csrf", csrf.as_str()),
                ("once", once.as_str()),
                ("step", "review"),
                ("app_type", "web"),
                ("name", "Strict portal"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", "openid"),
                ("require_par", "yes"),
                ("go", "create"),
            ],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    let strict = apps.iter().find(|a| a.name == "Strict portal").unwrap();
    assert!(strict.require_par);
    // Unticked in the app's settings.
    let settings = console_path(&seed, &format!("/apps/{}", strict.client_id));
    let saved = b
        .post(
            &settings,
            &[
                ("csrf", csrf.as_str()),
                ("name", "Strict portal"),
                ("redirect_uris", WEB_REDIRECT),
                ("scope", "openid"),
                ("access_token_ttl", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let app = srv
        .state
        .store
        .app(&strict.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!app.require_par);
}

/// Dynamic registration (RFC 7591) with an initial access token registers keys too: the app
/// has no secret, reads back its keys, and authenticates by assertion once added.
async fn a_dynamically_registered_app_authenticates_with_its_keys(backend: Backend) {
    let srv = spawn(backend, Arc::new(SystemClock)).await;
    let (_, initial) = crate::registration::admin_token(&srv, "acme").await;
    let key = new_key(Alg::ES256);
    let metadata = json!({
        "client_name": "Keyed robot",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks(&[&key]),
        "scope": "trades:read",
    });
    let (status, registered) = crate::registration::register(&srv, Some(&initial), &metadata).await;
    assert_eq!(status, 201, "{registered}");
    assert!(registered.get("client_secret").is_none(), "{registered}");
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(registered["jwks"], jwks(&[&key]));
    let id = registered["client_id"].as_str().unwrap();
    add_to_acme(&srv, id, &["trades:read"]).await;
    let now = SystemClock.now();
    let (status, body) = by_assertion(
        &srv,
        &sign(&key, &claims(id, &srv.url("/oauth2/token"), now)),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("trades:read")),
        "{body}"
    );

    // Keys without private_key_jwt, private_key_jwt without keys, and a private key: refused.
    let mut private = key.public.clone();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    for (bad, field) in [
        (
            json!({"grant_types": ["client_credentials"], "jwks": jwks(&[&key])}),
            "jwks",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [private]}}),
            "jwks",
        ),
    ] {
        let (status, body) = crate::registration::register(&srv, Some(&initial), &bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{bad}: {body}"
        );
        let description = body["error_description"].as_str().unwrap();
        assert!(description.starts_with(field), "{description}");
    }
}
