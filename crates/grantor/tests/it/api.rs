//! The management API with each kind of caller: owner, developer, member, admin client,
//! platform admin, a member of another organization, and tokens that must be refused.

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, WEB_REDIRECT};
use grantor_core::clock::ManualClock;
use grantor_core::manage::NewApiToken;
use grantor_core::model::{Caller, Role};
use grantor_core::{Clock, SystemClock};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    each_caller_reaches_what_its_role_and_scopes_allow,
    admin_clients_manage_their_own_organization_only,
    bad_tokens_get_401_with_a_bearer_challenge,
    developers_manage_resource_servers,
    a_retried_create_with_an_idempotency_key_makes_one_app,
);

/// An access token for the management API acting as `email` in `org`: an API token with
/// the scopes the user's role allows, exchanged.
pub(crate) async fn user_token(
    srv: &TestServer,
    org: &str,
    email: &str,
    scopes: &[&str],
) -> String {
    let (_, secret) = srv
        .state
        .manager
        .create_api_token(
            &Caller::operator(),
            org,
            email,
            NewApiToken {
                name: "test".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                expires_in: None,
            },
        )
        .await
        .unwrap();
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            None,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", &secret),
                (
                    "subject_token_type",
                    "urn:grantor:params:oauth:token-type:api-token",
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Calls the API; returns status, content type and body.
pub(crate) async fn call(
    srv: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut req = srv.http.request(method, srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        status,
        content_type,
        resp.json().await.unwrap_or(Value::Null),
    )
}

pub(crate) const OWNER_SCOPES: [&str; 5] = [
    "grantor:apps",
    "grantor:members",
    "grantor:resources",
    "grantor:audit",
    "grantor:api-tokens",
];

async fn each_caller_reaches_what_its_role_and_scopes_allow(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    srv.member(&acme, "dev@acme.example", Role::Developer).await;
    let beta = srv.seed("beta").await;
    srv.member(&beta.org.id, "bob@beta.example", Role::Owner)
        .await;
    create_platform_admin(&srv).await;
    srv.member(&beta.org.id, "root@ops.example", Role::Member)
        .await;

    let owner = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    let developer = user_token(
        &srv,
        "acme",
        "dev@acme.example",
        &["grantor:apps", "grantor:resources", "grantor:api-tokens"],
    )
    .await;
    let member = user_token(
        &srv,
        "acme",
        &seed.email,
        &["grantor:apps", "grantor:api-tokens", "trades:read"],
    )
    .await;
    let stranger = user_token(&srv, "beta", "bob@beta.example", &OWNER_SCOPES).await;
    let admin = user_token(
        &srv,
        "beta",
        "root@ops.example",
        &["grantor:orgs", "grantor:apps", "grantor:api-tokens"],
    )
    .await;

    // Organizations: each sees its own; the platform admin all; creating one is theirs.
    let (status, _, body) = call(&srv, Some(&owner), Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["name"], "acme");
    let (_, _, body) = call(&srv, Some(&admin), Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let new_org = Some(json!({"name": "gamma"}));
    let (status, content_type, body) = call(
        &srv,
        Some(&owner),
        Method::POST,
        "/api/v1/orgs",
        new_org.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 403);
    assert!(
        body["detail"].as_str().unwrap().contains("grantor:orgs"),
        "{body}"
    );
    let (status, _, body) = call(&srv, Some(&admin), Method::POST, "/api/v1/orgs", new_org).await;
    assert_eq!(status, 201, "{body}");

    // Another organization's members never learn that acme's things exist.
    for path in [
        "/api/v1/orgs/acme".to_string(),
        "/api/v1/orgs/acme/apps".to_string(),
        "/api/v1/orgs/acme/members".to_string(),
        format!("/api/v1/orgs/acme/apps/{}", seed.web.app.client_id),
    ] {
        let (status, _, body) = call(&srv, Some(&stranger), Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _, _) = call(
        &srv,
        Some(&admin),
        Method::GET,
        "/api/v1/orgs/acme/apps",
        None,
    )
    .await;
    assert_eq!(status, 200, "the platform admin reaches every organization");

    // Apps: members read, developers write, owners regenerate secrets and add apps.
    let (status, _, body) = call(
        &srv,
        Some(&member),
        Method::GET,
        "/api/v1/orgs/acme/apps",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["items"].as_array().unwrap().len() >= 3);
    let web_app = Some(json!({
        "type": "web", "name": "Reports", "redirect_uris": [WEB_REDIRECT],
        "scopes": ["openid", "trades:read"]
    }));
    let (status, _, body) = call(
        &srv,
        Some(&member),
        Method::POST,
        "/api/v1/orgs/acme/apps",
        web_app.clone(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        body["detail"].as_str().unwrap().contains("developer"),
        "{body}"
    );
    let (status, _, created) = call(
        &srv,
        Some(&developer),
        Method::POST,
        "/api/v1/orgs/acme/apps",
        web_app,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let first_secret = created["client_secret"].as_str().unwrap().to_string();
    let (status, _, shown) = call(
        &srv,
        Some(&member),
        Method::GET,
        &format!("/api/v1/orgs/acme/apps/{client_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        shown.get("client_secret").is_none(),
        "a secret is shown once"
    );
    let (status, _, body) = call(
        &srv,
        Some(&developer),
        Method::POST,
        "/api/v1/orgs/acme/apps",
        Some(json!({"type": "web", "name": "", "redirect_uris": ["ftp://x"]})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let secret_path = format!("/api/v1/orgs/acme/apps/{client_id}/secret");
    let (status, _, _) = call(&srv, Some(&developer), Method::POST, &secret_path, None).await;
    assert_eq!(status, 403);
    let (status, _, body) = call(&srv, Some(&owner), Method::POST, &secret_path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["client_secret"], first_secret.as_str());
    let (status, _, _) = srv
        .post_form(
            "/oauth2/introspect",
            Some((&client_id, &first_secret)),
            &[("token", "x")],
        )
        .await;
    assert_eq!(status, 401, "the old secret stopped working");
    let (status, _, body) = call(
        &srv,
        Some(&developer),
        Method::PATCH,
        &format!("/api/v1/orgs/acme/apps/{client_id}"),
        Some(json!({"name": "Reports 2"})),
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Reports 2")));

    // Adding apps to the organization: owners only.
    let addition = Some(json!({"client_id": beta.client_id(), "scopes": ["trades:read"]}));
    let (status, _, _) = call(
        &srv,
        Some(&developer),
        Method::POST,
        "/api/v1/orgs/acme/added-apps",
        addition.clone(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, body) = call(
        &srv,
        Some(&owner),
        Method::POST,
        "/api/v1/orgs/acme/added-apps",
        addition,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = call(
        &srv,
        Some(&member),
        Method::GET,
        "/api/v1/orgs/acme/added-apps?limit=1",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let cursor = body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, _, next) = call(
        &srv,
        Some(&member),
        Method::GET,
        &format!("/api/v1/orgs/acme/added-apps?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    assert_ne!(next["items"][0], body["items"][0]);

    // Members: owners manage them.
    let (status, _, _) = call(
        &srv,
        Some(&developer),
        Method::DELETE,
        "/api/v1/orgs/acme/members/owner@acme.example",
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, body) = call(
        &srv,
        Some(&owner),
        Method::PATCH,
        "/api/v1/orgs/acme/members/dev@acme.example",
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!((status, body["role"].as_str()), (200, Some("member")));
    let (status, _, _) = call(
        &srv,
        Some(&owner),
        Method::DELETE,
        "/api/v1/orgs/acme/members/dev@acme.example",
        None,
    )
    .await;
    assert_eq!(status, 204);

    // API tokens: a member manages their own.
    let (status, _, body) = call(
        &srv,
        Some(&member),
        Method::POST,
        "/api/v1/me/api-tokens",
        Some(json!({"name": "cron", "scopes": ["trades:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["secret"].as_str().unwrap().starts_with("gr_api_"));
    let id = body["id"].as_str().unwrap().to_string();
    let (status, _, listed) = call(
        &srv,
        Some(&member),
        Method::GET,
        "/api/v1/me/api-tokens",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(listed.to_string().contains(&id) && !listed.to_string().contains("gr_api_"));
    let path = format!("/api/v1/me/api-tokens/{id}");
    let (status, _, _) = call(&srv, Some(&owner), Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "someone else's token is not found");
    let (status, _, _) = call(&srv, Some(&member), Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
}

async fn admin_clients_manage_their_own_organization_only(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let (ok, created, stderr) = crate::support::cli(
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
            "--scope",
            "grantor:members",
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let (ok, _, stderr) = crate::support::cli(
        &srv.db.url,
        &[
            "app",
            "add-to-org",
            "--app",
            id,
            "--org",
            "acme",
            "--scope",
            "grantor:apps",
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let (status, _, body) = call(
        &srv,
        Some(&token),
        Method::POST,
        "/api/v1/orgs/acme/apps",
        Some(json!({"type": "web", "name": "Portal", "redirect_uris": [WEB_REDIRECT]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = call(
        &srv,
        Some(&token),
        Method::GET,
        "/api/v1/orgs/beta/apps",
        None,
    )
    .await;
    assert_eq!(status, 404, "another organization is out of sight");
    let (status, _, body) = call(
        &srv,
        Some(&token),
        Method::GET,
        "/api/v1/orgs/acme/members",
        None,
    )
    .await;
    assert_eq!(status, 403, "grantor:members was not granted: {body}");
    let (status, _, _) = call(
        &srv,
        Some(&token),
        Method::GET,
        "/api/v1/me/api-tokens",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let _ = (acme, beta);
}

async fn bad_tokens_get_401_with_a_bearer_challenge(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    // A token meant for another API (the Trading API's audience).
    let (_, _, body) = srv
        .post_form(
            "/oauth2/token",
            Some((seed.seed.client_id(), seed.seed.secret())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let trading = body["access_token"].as_str().unwrap().to_string();
    let expiring = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    assert_eq!(
        call(&srv, Some(&expiring), Method::GET, "/api/v1/orgs", None)
            .await
            .0,
        200
    );
    clock.advance(3600);
    for token in [
        None,
        Some("garbage"),
        Some(trading.as_str()),
        Some(expiring.as_str()),
    ] {
        let resp = srv.http.get(srv.url("/api/v1/orgs/acme/apps"));
        let resp = match token {
            Some(t) => resp.bearer_auth(t),
            None => resp,
        }
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 401, "{token:?}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}

async fn developers_manage_resource_servers(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "dev@acme.example", Role::Developer).await;
    let beta = srv.seed("beta").await;
    srv.member(&beta.org.id, "bob@beta.example", Role::Owner)
        .await;
    let developer = user_token(
        &srv,
        "acme",
        "dev@acme.example",
        &["grantor:apps", "grantor:resources"],
    )
    .await;
    let member = user_token(&srv, "acme", &seed.email, &["grantor:apps"]).await;
    let stranger = user_token(&srv, "beta", "bob@beta.example", &OWNER_SCOPES).await;

    let (status, _, rs) = call(
        &srv,
        Some(&developer),
        Method::POST,
        "/api/v1/orgs/acme/resource-servers",
        Some(
            json!({"identifier": "https://ledger.example.com", "name": "Ledger",
                    "scopes": [{"name": "ledger:read", "description": "Read the ledger"}]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{rs}");
    let path = format!(
        "/api/v1/orgs/acme/resource-servers/{}",
        rs["id"].as_str().unwrap()
    );
    let (status, _, shown) = call(&srv, Some(&member), Method::GET, &path, None).await;
    assert_eq!((status, shown["name"].as_str()), (200, Some("Ledger")));
    let (status, _, _) = call(&srv, Some(&stranger), Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let change = Some(json!({"name": "General ledger", "scopes": [
        {"name": "ledger:read", "description": "Read"},
        {"name": "ledger:write", "description": "Post entries"}]}));
    let (status, _, _) = call(&srv, Some(&member), Method::PATCH, &path, change.clone()).await;
    assert_eq!(status, 403);
    let (status, _, changed) = call(&srv, Some(&developer), Method::PATCH, &path, change).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["scopes"].as_array().unwrap().len(), 2);
    // Scope names are unique within a resource server only: another API may have its own
    // trades:read, but one API may not list a name twice.
    let (status, _, body) = call(
        &srv,
        Some(&developer),
        Method::PATCH,
        &path,
        Some(json!({"scopes": [{"name": "trades:read", "description": "ours"}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = call(
        &srv,
        Some(&developer),
        Method::PATCH,
        &path,
        Some(json!({"scopes": [{"name": "a:b", "description": ""}, {"name": "a:b", "description": ""}]})),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("scopes[1].name")),
        "{body}"
    );
    let (status, _, _) = call(&srv, Some(&developer), Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _, _) = call(&srv, Some(&developer), Method::GET, &path, None).await;
    assert_eq!(status, 404);
}

/// POSTs a JSON body with an `Idempotency-Key`; returns status, whether it was a replay, body.
pub(crate) async fn post_once(
    srv: &TestServer,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, bool, Value) {
    let resp = srv
        .http
        .post(srv.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let replayed = resp.headers().contains_key("idempotent-replayed");
    (status, replayed, resp.json().await.unwrap_or(Value::Null))
}

async fn a_retried_create_with_an_idempotency_key_makes_one_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let developer = user_token(&srv, "acme", "dev@acme.example", &["grantor:apps"]).await;
    let apps = "/api/v1/orgs/acme/apps";
    let count = || async {
        call(&srv, Some(&developer), Method::GET, apps, None)
            .await
            .2["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let app = json!({"type": "server", "name": "Nightly", "scopes": ["trades:read"]});
    let (status, replayed, first) = post_once(&srv, &developer, apps, "create-nightly", &app).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = post_once(&srv, &developer, apps, "create-nightly", &app).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(
        again, first,
        "the same app and the same secret, shown again"
    );
    assert_eq!(count().await, before + 1, "one app");

    let other = json!({"type": "server", "name": "Other"});
    let (status, _, body) = post_once(&srv, &developer, apps, "create-nightly", &other).await;
    assert_eq!(status, 422, "a key belongs to one request: {body}");

    // A refused request leaves its key free for the corrected retry.
    let bad = json!({"type": "server", "name": ""});
    let (status, _, _) = post_once(&srv, &developer, apps, "create-weekly", &bad).await;
    assert_eq!(status, 422);
    let good = json!({"type": "server", "name": "Weekly"});
    let (status, replayed, _) = post_once(&srv, &developer, apps, "create-weekly", &good).await;
    assert_eq!((status, replayed), (201, false));
    assert_eq!(count().await, before + 2);
}

/// Every operation the management API serves, as the issue lists them.
const OPERATIONS: [(&str, &str); 27] = [
    ("get", "/api/v1/orgs"),
    ("post", "/api/v1/orgs"),
    ("get", "/api/v1/orgs/{org}"),
    ("get", "/api/v1/orgs/{org}/members"),
    ("post", "/api/v1/orgs/{org}/members"),
    ("patch", "/api/v1/orgs/{org}/members/{user}"),
    ("delete", "/api/v1/orgs/{org}/members/{user}"),
    ("get", "/api/v1/orgs/{org}/resource-servers"),
    ("post", "/api/v1/orgs/{org}/resource-servers"),
    ("get", "/api/v1/orgs/{org}/resource-servers/{id}"),
    ("patch", "/api/v1/orgs/{org}/resource-servers/{id}"),
    ("delete", "/api/v1/orgs/{org}/resource-servers/{id}"),
    ("get", "/api/v1/orgs/{org}/apps"),
    ("post", "/api/v1/orgs/{org}/apps"),
    ("get", "/api/v1/orgs/{org}/apps/{app}"),
    ("patch", "/api/v1/orgs/{org}/apps/{app}"),
    ("delete", "/api/v1/orgs/{org}/apps/{app}"),
    ("post", "/api/v1/orgs/{org}/apps/{app}/secret"),
    ("get", "/api/v1/orgs/{org}/added-apps"),
    ("post", "/api/v1/orgs/{org}/added-apps"),
    ("patch", "/api/v1/orgs/{org}/added-apps/{app}"),
    ("delete", "/api/v1/orgs/{org}/added-apps/{app}"),
    ("get", "/api/v1/orgs/{org}/audit-events"),
    ("get", "/api/v1/me/api-tokens"),
    ("post", "/api/v1/me/api-tokens"),
    ("delete", "/api/v1/me/api-tokens/{id}"),
    ("post", "/api/v1/users"),
];

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (status, _, doc) = call(&srv, None, Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");

    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((method.clone(), path.clone()));
            // Every operation says how it fails, in the problem format.
            let unprocessable = &operation["responses"]["422"]["content"];
            assert!(
                unprocessable["application/problem+json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/ProblemBody")),
                "{method} {path}: {operation}"
            );
            if method != "get" {
                let params = operation["parameters"].as_array().unwrap();
                assert!(
                    params.iter().any(|p| p["name"] == "Idempotency-Key"),
                    "{method} {path} takes an Idempotency-Key"
                );
            }
        }
    }
    documented.sort();
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected, "the document lists exactly the API");

    // And each documented operation is served: without a token it asks for one, rather than
    // answering 404 or 405.
    for (method, path) in &expected {
        let concrete = path
            .replace("{org}", "acme")
            .replace("{app}", "app_x")
            .replace("{user}", "someone")
            .replace("{id}", "x");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, content_type, _) = call(&srv, None, method.clone(), &concrete, None).await;
        assert_eq!(status, 401, "{method} {concrete}");
        assert_eq!(content_type, "application/problem+json");
    }
}

/// A platform admin, root@ops.example, who belongs to no organization yet.
pub(crate) async fn create_platform_admin(srv: &TestServer) {
    srv.state
        .manager
        .create_user(
            &Caller::operator(),
            "root@ops.example",
            Some(PASSWORD),
            None,
            true,
        )
        .await
        .unwrap();
}
