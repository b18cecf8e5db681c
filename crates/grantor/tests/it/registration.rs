//! Dynamic client registration (RFC 7591) and its management (RFC 7592): with an initial
//! access token in the token's organization, and anonymously for native apps once an owner
//! opened registration, pending until the first authorization request names a resource of
//! that organization.

use crate::both_backends;
use crate::support::oauth::{Pkce, authorize_url, code_in, decode_payload, enc, redirect_params};
use crate::support::{
    Backend, NATIVE_REDIRECT, PASSWORD, SignInSeed, TRADING, TestServer, WEB_REDIRECT, server_app,
};
use grantor_core::clock::ManualClock;
use grantor_core::model::{Caller, Role};
use grantor_core::store::AuditQuery;
use grantor_core::{Clock, SystemClock};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    an_admin_clients_token_registers_in_its_organization_audited,
    an_initial_token_without_grantor_apps_is_refused,
    bad_metadata_is_refused_naming_the_field,
    the_registration_token_reads_updates_and_deletes_its_own_registration_only,
    anonymous_registration_waits_for_an_organization_and_binds_on_first_authorization,
    anonymous_registration_is_refused_while_closed_and_throttled,
    unbound_registrations_expire,
    owners_open_and_close_registration_in_the_console_and_the_cli,
);

/// An answer of the registration endpoint: status, `Retry-After`, body.
async fn send(
    srv: &TestServer,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let mut req = srv.http.request(method, url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    (
        status,
        retry,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

pub(crate) async fn register(srv: &TestServer, token: Option<&str>, body: &Value) -> (u16, Value) {
    let (status, _, body) = send(
        srv,
        Method::POST,
        &srv.url("/oauth2/register"),
        token,
        Some(body),
    )
    .await;
    (status, body)
}

/// An admin client of `org` (a server app holding `grantor:apps` there) and its token.
pub(crate) async fn admin_token(srv: &TestServer, org: &str) -> (String, String) {
    let admin = srv
        .added_app(org, server_app("automation", &["grantor:apps"]))
        .await;
    let token = srv
        .oauth()
        .access_token(
            &admin.app.client_id,
            admin.client_secret.as_deref().unwrap(),
            &[("scope", "grantor:apps")],
        )
        .await;
    (admin.app.client_id, token)
}

fn web_metadata() -> Value {
    json!({
        "client_name": "Dashboard",
        "redirect_uris": [WEB_REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid trades:read",
        "software_id": "unknown fields are ignored"
    })
}

fn native_metadata(scope: &str) -> Value {
    json!({
        "client_name": "Trading MCP client",
        "redirect_uris": [NATIVE_REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": scope,
    })
}

async fn audit(srv: &TestServer, org: &str, action: &str) -> Vec<grantor_core::model::AuditEvent> {
    srv.state
        .manager
        .audit_events(
            &Caller::operator(),
            org,
            &AuditQuery {
                action: Some(action.into()),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap()
}

async fn an_admin_clients_token_registers_in_its_organization_audited(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    let (admin, token) = admin_token(&srv, &org).await;

    let (status, body) = register(&srv, Some(&token), &web_metadata()).await;
    assert_eq!(status, 201, "{body}");
    let client_id = body["client_id"].as_str().unwrap();
    assert!(client_id.starts_with("app_"));
    assert!(
        body["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("gr_sec_")
    );
    assert_eq!(body["client_secret_expires_at"], 0);
    assert!(
        body["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("gr_reg_")
    );
    assert_eq!(
        body["registration_client_uri"],
        srv.url(&format!("/oauth2/register/{client_id}"))
    );
    assert_eq!(body["grantor_org_id"], org.as_str());
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["redirect_uris"], json!([WEB_REDIRECT]));
    assert_eq!(body["scope"], "openid trades:read");

    // A web app of the admin client's organization, as if made through the API; its secret
    // works at once.
    let (app, _) = srv
        .state
        .manager
        .app(&Caller::operator(), Some(&org), client_id)
        .await
        .unwrap();
    assert_eq!(
        (app.name.as_str(), app.app_type.as_str()),
        ("Dashboard", "web")
    );
    let secret = body["client_secret"].as_str().unwrap();
    let answer = srv
        .oauth()
        .introspect(Some((client_id, secret)), "not-a-token")
        .await;
    assert_eq!(
        answer["active"], false,
        "the registered secret authenticates"
    );

    let events = audit(&srv, &org, "app.create").await;
    let event = events
        .iter()
        .find(|e| e.target == client_id)
        .expect("the registration is audited as an app creation");
    assert_eq!(event.actor, format!("app:{admin}"));

    // The discovery documents advertise the endpoint.
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta = srv.get_json(doc).await;
        assert_eq!(meta["registration_endpoint"], srv.url("/oauth2/register"));
    }
}

async fn an_initial_token_without_grantor_apps_is_refused(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "dev@acme.example", Role::Developer).await;
    let without = srv
        .user_token("acme", "dev@acme.example", &["grantor:api-tokens"])
        .await;
    let (status, body) = register(&srv, Some(&without), &web_metadata()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // A member holds grantor:apps in a token but may not manage apps.
    let member = srv.user_token("acme", &seed.email, &["grantor:apps"]).await;
    let (status, body) = register(&srv, Some(&member), &web_metadata()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // A token for the Trading API, and garbage, are no initial access tokens.
    let trading = srv.token_for(&seed.seed, &[]).await;
    for bad in [trading.as_str(), "garbage"] {
        let (status, body) = register(&srv, Some(bad), &web_metadata()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token"))
        );
    }

    // A developer's token with grantor:apps registers.
    let dev = srv
        .user_token("acme", "dev@acme.example", &["grantor:apps"])
        .await;
    let (status, body) = register(&srv, Some(&dev), &web_metadata()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["grantor_org_id"], org.as_str());
}

async fn bad_metadata_is_refused_naming_the_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let (_, token) = admin_token(&srv, &seed.seed.org.id).await;
    let with = |change: Value| {
        let mut body = web_metadata();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let many: Vec<String> = (0..11)
        .map(|i| format!("https://app.example.com/{i}"))
        .collect();
    for (body, error, field) in [
        (
            with(json!({"redirect_uris": ["https://app.example.com/cb#frag"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(json!({"redirect_uris": ["http://app.example.com/cb"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(json!({"redirect_uris": ["not a uri"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(json!({"redirect_uris": []})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(json!({"redirect_uris": many})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(json!({"client_name": "x".repeat(101)})),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            with(json!({"token_endpoint_auth_method": "client_secret_jwt"})),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            with(json!({"token_endpoint_auth_method": "private_key_jwt"})),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            with(json!({"grant_types": ["password"]})),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            with(json!({"scope": "trades:unknown"})),
            "invalid_client_metadata",
            "scope",
        ),
        (
            with(json!({"scope": "grantor:orgs"})),
            "invalid_client_metadata",
            "scope",
        ),
        (json!(["not an object"]), "invalid_client_metadata", ""),
    ] {
        let (status, answer) = register(&srv, Some(&token), &body).await;
        assert_eq!(status, 400, "{body} {answer}");
        assert_eq!(answer["error"], error, "{body} {answer}");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{answer}"
        );
    }
    // Bodies are bounded before they are read.
    let huge = with(json!({"client_name": "x".repeat(20_000)}));
    let (status, answer) = register(&srv, Some(&token), &huge).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("invalid_client_metadata"))
    );
    // Whatever the body, never a 5xx: wrong types in every field, deep nesting, no JSON at
    // all, another media type, and the same anonymously.
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let mut hostile: Vec<(String, &str)> = vec![
        (deep, "application/json"),
        (
            "{\"redirect_uris\": \"\\u0000\"}".into(),
            "application/json",
        ),
        ("\u{ff}\u{fe}".into(), "application/json"),
        ("not json".into(), "application/json"),
        ("{}".into(), "text/plain"),
        ("".into(), "application/json"),
    ];
    for field in [
        "redirect_uris",
        "client_name",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "scope",
        "post_logout_redirect_uris",
    ] {
        for value in [
            "null",
            "1",
            "true",
            "{}",
            "[1]",
            "[[\"x\"]]",
            "\"\"",
            "[\"\"]",
        ] {
            hostile.push((format!("{{\"{field}\": {value}}}"), "application/json"));
        }
    }
    for (body, media) in hostile {
        for auth in [Some(token.as_str()), None] {
            let mut req = srv
                .http
                .post(srv.url("/oauth2/register"))
                .header("content-type", media)
                .body(body.clone());
            if let Some(auth) = auth {
                req = req.bearer_auth(auth);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{status} for {body:.80} ({media})"
            );
        }
    }
    // No app was made by any of these.
    let apps = srv
        .state
        .manager
        .apps(
            &Caller::operator(),
            "acme",
            grantor_core::store::Window::first(100),
        )
        .await
        .unwrap();
    assert_eq!(apps.len(), 4, "bot, automation, web and native only");
}

async fn the_registration_token_reads_updates_and_deletes_its_own_registration_only(
    backend: Backend,
) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    let (_, token) = admin_token(&srv, &org).await;
    let (_, first) = register(&srv, Some(&token), &web_metadata()).await;
    let (_, second) = register(&srv, Some(&token), &web_metadata()).await;
    let uri = first["registration_client_uri"].as_str().unwrap();
    let mine = first["registration_access_token"].as_str().unwrap();
    let theirs = second["registration_access_token"].as_str().unwrap();

    let (status, _, read) = send(&srv, Method::GET, uri, Some(mine), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_id"], first["client_id"]);
    assert_eq!(read["client_name"], "Dashboard");
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none());
    for other in [
        Some(theirs),
        Some("gr_reg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        None,
    ] {
        let (status, _, body) = send(&srv, Method::GET, uri, other, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token"))
        );
    }

    // An update replaces the registration's own fields, and may narrow its scopes.
    let mut changed = web_metadata();
    changed["client_name"] = json!("Dashboard 2");
    changed["redirect_uris"] = json!(["https://app.example.com/new"]);
    changed["scope"] = json!("trades:read");
    changed["client_id"] = first["client_id"].clone();
    let (status, _, updated) = send(&srv, Method::PUT, uri, Some(mine), Some(&changed)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Dashboard 2");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.com/new"])
    );
    assert_eq!(updated["scope"], "trades:read");
    // ...but never widen them, change the app's type, or be made with another's token.
    changed["scope"] = json!("trades:read trades:write");
    let (status, _, body) = send(&srv, Method::PUT, uri, Some(mine), Some(&changed)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    changed["scope"] = json!("trades:read");
    changed["token_endpoint_auth_method"] = json!("none");
    let (status, _, body) = send(&srv, Method::PUT, uri, Some(mine), Some(&changed)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let (status, _, _) = send(&srv, Method::PUT, uri, Some(theirs), Some(&web_metadata())).await;
    assert_eq!(status, 401);
    let (status, _, _) = send(&srv, Method::DELETE, uri, Some(theirs), None).await;
    assert_eq!(status, 401);

    let (status, _, _) = send(&srv, Method::DELETE, uri, Some(mine), None).await;
    assert_eq!(status, 204);
    let gone = srv
        .state
        .manager
        .app(
            &Caller::operator(),
            Some(&org),
            first["client_id"].as_str().unwrap(),
        )
        .await;
    assert!(gone.is_err(), "the app is deleted");
    let (status, _, _) = send(&srv, Method::GET, uri, Some(mine), None).await;
    assert_eq!(status, 401);
    let deleted = audit(&srv, &org, "app.delete").await;
    assert_eq!(
        deleted[0].actor,
        format!("registration:{}", first["client_id"].as_str().unwrap())
    );
    // The other registration is untouched.
    let (status, _, _) = send(
        &srv,
        Method::GET,
        second["registration_client_uri"].as_str().unwrap(),
        Some(theirs),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

/// The owner of `seed`'s organization opens registration through the API with `scopes`.
async fn open_registration(srv: &TestServer, seed: &SignInSeed, scopes: &[&str]) -> Value {
    let owner = format!("owner@{}.example", seed.seed.org.name);
    srv.member(&seed.seed.org.id, &owner, Role::Owner).await;
    let api = srv
        .api_as(&seed.seed.org.name, &owner, &["grantor:apps"])
        .await;
    api.call(
        Method::PUT,
        &format!("/api/v1/orgs/{}/registration", seed.seed.org.name),
        Some(json!({"scopes": scopes})),
    )
    .await
    .expect(200)
}

async fn anonymous_registration_waits_for_an_organization_and_binds_on_first_authorization(
    backend: Backend,
) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    // A member may not open registration; an owner may.
    let member = srv.api_as("acme", &seed.email, &["grantor:apps"]).await;
    let refused = member
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/registration",
            Some(json!({"scopes": ["trades:read"]})),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let setting = open_registration(&srv, &seed, &["trades:read"]).await;
    assert_eq!(setting["open"], true);
    assert_eq!(setting["scopes"], json!(["trades:read"]));
    assert_eq!(audit(&srv, &org, "registration.open").await.len(), 1);

    // Anonymous: answered at once, pending (no organization yet).
    let (status, reg) = register(
        &srv,
        None,
        &native_metadata("openid trades:read trades:write"),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    assert!(reg.get("grantor_org_id").is_none() && reg.get("client_secret").is_none());
    assert_eq!(reg["token_endpoint_auth_method"], "none");

    // An authorization request without a resource cannot bind it: a page, no redirect.
    let proof = Pkce::s256();
    let base = |more: &str| {
        authorize_url(
            &client_id,
            "http://127.0.0.1:50123/callback",
            &format!(
                "scope={}&state=s1&{}{more}",
                enc("openid trades:read"),
                proof.query()
            ),
        )
    };
    // Nobody signed in: the user signs in first (only a member of the organization binds a
    // registration to it); then, without a resource, nothing can bind it: a page, no redirect.
    let mut session = srv.http_session();
    let page = session.get(&base("")).await;
    assert!(
        page.location.as_deref().unwrap().starts_with("/login"),
        "{}",
        page.status
    );
    let page = session.follow(page).await;
    let page = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.location.is_none());
    assert!(page.body.contains("resource"), "{}", page.body);

    // Someone of another organization cannot bind it to this one.
    let other = srv.seed_sign_in("globex").await;
    let mut stranger = srv.http_session();
    let page = stranger
        .get(&base(&format!("&resource={}", enc(TRADING))))
        .await;
    let page = stranger.follow(page).await;
    let page = stranger.sign_in(&page, &other.email, PASSWORD).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        srv.state
            .manager
            .app(&Caller::operator(), None, &client_id)
            .await
            .is_err(),
        "still pending"
    );

    // The first naming the organization's API binds it; the user signs in and approves.
    let with_resource = base(&format!("&resource={}", enc(TRADING)));
    let location = session
        .authorize(
            &with_resource,
            &seed.email,
            PASSWORD,
            &["openid", "trades:read"],
        )
        .await;
    assert!(
        location.starts_with("http://127.0.0.1:50123/callback?"),
        "{location}"
    );
    let code = code_in(&location);
    let (status, tokens) = srv
        .oauth()
        .exchange_code_public(
            &client_id,
            &code,
            "http://127.0.0.1:50123/callback",
            &proof.verifier,
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = decode_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["org_id"], org.as_str());
    assert_eq!(claims["aud"], TRADING);
    assert_eq!(claims["scope"], "openid trades:read");

    // Now a native app of the organization, scopes limited to the ceiling, made by the
    // registration and audited.
    let (app, _) = srv
        .state
        .manager
        .app(&Caller::operator(), Some(&org), &client_id)
        .await
        .unwrap();
    assert_eq!(app.app_type.as_str(), "native");
    assert!(!app.scopes.contains("trades:write"), "beyond the ceiling");
    let created = audit(&srv, &org, "app.create").await;
    let event = created.iter().find(|e| e.target == client_id).unwrap();
    assert_eq!(event.actor, format!("registration:{client_id}"));
    let (status, _, read) = send(
        &srv,
        Method::GET,
        reg["registration_client_uri"].as_str().unwrap(),
        reg["registration_access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        (status, read["grantor_org_id"].as_str()),
        (200, Some(org.as_str()))
    );

    // Scopes beyond the ceiling are refused like any scope the app may not ask for.
    let beyond = authorize_url(
        &client_id,
        NATIVE_REDIRECT,
        &format!("scope={}&state=s2&{}", enc("trades:write"), proof.query()),
    );
    let page = session.get(&beyond).await;
    let error = redirect_params(page.location.as_deref().unwrap());
    assert_eq!(error["error"], "invalid_scope");

    // Closing registration leaves bound apps working.
    let owner = srv
        .api_as("acme", "owner@acme.example", &["grantor:apps"])
        .await;
    let closed = owner
        .call(Method::DELETE, "/api/v1/orgs/acme/registration", None)
        .await;
    assert_eq!(closed.status, 204);
    let again = session
        .authorize(
            &with_resource,
            &seed.email,
            PASSWORD,
            &["openid", "trades:read"],
        )
        .await;
    assert!(redirect_params(&again).contains_key("code"), "{again}");
    let (status, _) = register(&srv, None, &native_metadata("trades:read")).await;
    assert_eq!(status, 401, "closed everywhere: no anonymous registration");
}

async fn anonymous_registration_is_refused_while_closed_and_throttled(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let (status, body) = register(&srv, None, &native_metadata("trades:read")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );

    open_registration(&srv, &seed, &["trades:read"]).await;
    // Only native apps register anonymously.
    let (status, body) = register(&srv, None, &web_metadata()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    for _ in 0..9 {
        let (status, body) = register(&srv, None, &native_metadata("trades:read")).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, retry, body) = send(
        &srv,
        Method::POST,
        &srv.url("/oauth2/register"),
        None,
        Some(&native_metadata("trades:read")),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")));
    assert_eq!(retry.as_deref(), Some("3600"));
}

async fn unbound_registrations_expire(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    open_registration(&srv, &seed, &["trades:read"]).await;
    let (status, reg) = register(&srv, None, &native_metadata("trades:read")).await;
    assert_eq!(status, 201, "{reg}");
    let client_id = reg["client_id"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let token = reg["registration_access_token"].as_str();
    let (status, _, _) = send(&srv, Method::GET, uri, token, None).await;
    assert_eq!(status, 200);

    clock.advance(86_400 + 1);
    let (status, _, _) = send(&srv, Method::GET, uri, token, None).await;
    assert_eq!(status, 401, "expired");
    let proof = Pkce::s256();
    let url = authorize_url(
        client_id,
        NATIVE_REDIRECT,
        &format!(
            "scope=trades:read&{}&resource={}",
            proof.query(),
            enc(TRADING)
        ),
    );
    let page = srv.http_session().get(&url).await;
    assert_eq!(page.status, 400, "an expired registration binds nowhere");
    assert!(page.location.is_none());
    // And the purge removes it.
    srv.state.store.purge_expired(clock.now()).await.unwrap();
    let left = grantor_core::store::RegistrationStore::registration(&srv.state.store, client_id, 0)
        .await
        .unwrap();
    assert!(left.is_none(), "purged");
}

async fn owners_open_and_close_registration_in_the_console_and_the_cli(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "owner@acme.example", Role::Owner).await;
    let path = format!("/console/orgs/{org}/registration");

    // A member sees the page but no form; the server refuses the change anyway.
    let mut member = srv.http_session();
    let page = member.get(&path).await;
    let page = member.follow(page).await;
    let page = member.sign_in(&page, &seed.email, PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Registration is closed"));
    assert!(!page.body.contains("Open registration"));
    let tokens = member.get(&format!("/console/orgs/{org}/api-tokens")).await;
    let csrf = tokens.field("csrf").unwrap();
    let refused = member
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "open"),
                ("scope", "trades:read"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    let mut owner = srv.http_session();
    let page = owner.get(&path).await;
    let page = owner.follow(page).await;
    let page = owner.sign_in(&page, "owner@acme.example", PASSWORD).await;
    assert!(page.body.contains("Open registration"), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let done = owner
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "open"),
                ("scope", "trades:read"),
            ],
        )
        .await;
    let page = owner.follow(done).await;
    assert!(page.body.contains("Registration is open"), "{}", page.body);
    let (status, _) = register(&srv, None, &native_metadata("trades:read")).await;
    assert_eq!(status, 201);
    let done = owner
        .post(&path, &[("csrf", &csrf), ("action", "close")])
        .await;
    let page = owner.follow(done).await;
    assert!(
        page.body.contains("Registration is closed"),
        "{}",
        page.body
    );
    assert_eq!(audit(&srv, &org, "registration.close").await.len(), 1);

    // The CLI, as the operator.
    let (ok, out, err) = crate::support::cli(
        &srv.db.url,
        &[
            "org",
            "open-registration",
            "--org",
            "acme",
            "--scopes",
            "trades:read trades:write",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        json!({"open": true, "scopes": ["trades:read", "trades:write"]})
    );
    let (ok, _, err) = crate::support::cli(
        &srv.db.url,
        &[
            "org",
            "open-registration",
            "--org",
            "acme",
            "--scopes",
            "grantor:orgs",
        ],
        None,
    )
    .await;
    assert!(!ok && err.contains("management scopes"), "{err}");
    let (ok, _, err) = crate::support::cli(
        &srv.db.url,
        &["org", "close-registration", "--org", "acme"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let ceiling = srv
        .state
        .manager
        .registration_ceiling(&Caller::operator(), "acme")
        .await
        .unwrap();
    assert!(ceiling.is_none());
}
