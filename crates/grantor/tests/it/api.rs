//! The management API with each kind of caller: owner, developer, member, admin client,
//! platform admin, a member of another organization, and tokens that must be refused.

use crate::both_backends;
use crate::support::api::{Api, OWNER_SCOPES, PLATFORM_ADMIN, Reply};
use crate::support::{Backend, TestServer, WEB_REDIRECT, cli};
use grantor_core::clock::ManualClock;
use grantor_core::model::Role;
use grantor_core::{Clock, SystemClock};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

both_backends!(
    each_caller_reaches_what_its_role_and_scopes_allow,
    admin_clients_manage_their_own_organization_only,
    bad_tokens_get_401_with_a_bearer_challenge,
    developers_manage_resource_servers,
    a_retried_create_with_an_idempotency_key_makes_one_app,
);

/// Who calls: a member of acme with a role, or someone from beta, another organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Owner,
    Developer,
    Member,
    /// An owner of beta.
    Stranger,
    /// A platform admin, a member of beta.
    Admin,
}

/// A management action on acme (or, for organizations and API tokens, the caller's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    ListOrgs,
    CreateOrg,
    ReadAcme,
    ListApps,
    ListMembers,
    /// Reads acme's web app.
    ReadWebApp,
    /// Creates the web app "Reports", which later rows read, regenerate and rename.
    CreateApp,
    /// Creates an app no one may: no name, a bad redirect URI.
    CreateInvalidApp,
    ReadApp,
    RegenerateSecret,
    RenameApp,
    /// Adds beta's server app to acme.
    AddBetasApp,
    /// The first page (of one) of acme's added apps.
    ListAddedApps,
    RemoveOwner,
    /// Makes the developer a member.
    DemoteDeveloper,
    RemoveDeveloper,
    /// Creates an API token of the caller's own, which later rows list and delete.
    CreateApiToken,
    ListApiTokens,
    /// Deletes the API token the member created.
    DeleteMembersApiToken,
}

use Action::*;
use Who::*;

/// Who may do what: the status each action answers each caller. Rows run in order, and some
/// act on what earlier ones made (an app, an API token) or changed (a role).
const ROLE_MATRIX: &[(Who, Action, u16)] = &[
    // Organizations: each sees its own; the platform admin all; creating one is theirs.
    (Owner, ListOrgs, 200),
    (Admin, ListOrgs, 200),
    (Owner, CreateOrg, 403),
    (Admin, CreateOrg, 201),
    // Another organization's members never learn that acme's things exist; the platform
    // admin reaches every organization.
    (Stranger, ReadAcme, 404),
    (Stranger, ListApps, 404),
    (Stranger, ListMembers, 404),
    (Stranger, ReadWebApp, 404),
    (Admin, ListApps, 200),
    // Apps: members read, developers write, owners regenerate secrets and add apps.
    (Member, ListApps, 200),
    (Member, CreateApp, 403),
    (Developer, CreateApp, 201),
    (Member, ReadApp, 200),
    (Developer, CreateInvalidApp, 422),
    (Developer, RegenerateSecret, 403),
    (Owner, RegenerateSecret, 200),
    (Developer, RenameApp, 200),
    (Developer, AddBetasApp, 403),
    (Owner, AddBetasApp, 201),
    (Member, ListAddedApps, 200),
    // Members: owners manage them.
    (Developer, RemoveOwner, 403),
    (Owner, DemoteDeveloper, 200),
    (Owner, RemoveDeveloper, 204),
    // API tokens: a member manages their own; someone else's is not found.
    (Member, CreateApiToken, 201),
    (Member, ListApiTokens, 200),
    (Owner, DeleteMembersApiToken, 404),
    (Member, DeleteMembersApiToken, 204),
];

/// What earlier rows made, for later ones to act on.
#[derive(Default)]
struct Made {
    app: String,
    first_secret: String,
    api_token: String,
}

async fn act(api: &Api<'_>, action: Action, web_app: &str, betas_app: &str, made: &Made) -> Reply {
    let reports = json!({
        "type": "web", "name": "Reports", "redirect_uris": [WEB_REDIRECT],
        "scopes": ["openid", "trades:read"]
    });
    match action {
        ListOrgs => api.orgs().await,
        CreateOrg => api.create_org(json!({"name": "gamma"})).await,
        ReadAcme => api.org("acme").await,
        ListApps => api.apps("acme").await,
        ListMembers => api.members("acme").await,
        ReadWebApp => api.app("acme", web_app).await,
        CreateApp => api.create_app("acme", reports).await,
        CreateInvalidApp => {
            let invalid = json!({"type": "web", "name": "", "redirect_uris": ["ftp://x"]});
            api.create_app("acme", invalid).await
        }
        ReadApp => api.app("acme", &made.app).await,
        RegenerateSecret => api.regenerate_secret("acme", &made.app, None).await,
        RenameApp => {
            let rename = json!({"name": "Reports 2"});
            api.update_app("acme", &made.app, rename).await
        }
        AddBetasApp => {
            let addition = json!({"client_id": betas_app, "scopes": ["trades:read"]});
            api.add_app("acme", addition).await
        }
        ListAddedApps => api.added_apps("acme", "limit=1").await,
        RemoveOwner => api.remove_member("acme", "owner@acme.example").await,
        DemoteDeveloper => {
            let role = json!({"role": "member"});
            api.update_member("acme", "dev@acme.example", role).await
        }
        RemoveDeveloper => api.remove_member("acme", "dev@acme.example").await,
        CreateApiToken => {
            let token = json!({"name": "cron", "scopes": ["trades:read"]});
            api.create_api_token(token).await
        }
        ListApiTokens => api.api_tokens().await,
        DeleteMembersApiToken => api.revoke_api_token(&made.api_token).await,
    }
}

async fn each_caller_reaches_what_its_role_and_scopes_allow(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    srv.member(&acme, "dev@acme.example", Role::Developer).await;
    let beta = srv.seed("beta").await;
    srv.member(&beta.org.id, "bob@beta.example", Role::Owner)
        .await;
    srv.platform_admin().await;
    srv.member(&beta.org.id, PLATFORM_ADMIN, Role::Member).await;

    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let developer = ["grantor:apps", "grantor:resources", "grantor:api-tokens"];
    let developer = srv.api_as("acme", "dev@acme.example", &developer).await;
    let member = ["grantor:apps", "grantor:api-tokens", "trades:read"];
    let member = srv.api_as("acme", &seed.email, &member).await;
    let stranger = srv.api_as("beta", "bob@beta.example", &OWNER_SCOPES).await;
    let admin = ["grantor:orgs", "grantor:apps", "grantor:api-tokens"];
    let admin = srv.api_as("beta", PLATFORM_ADMIN, &admin).await;

    let mut made = Made::default();
    for (row, &(who, action, expected)) in ROLE_MATRIX.iter().enumerate() {
        let api = match who {
            Owner => &owner,
            Developer => &developer,
            Member => &member,
            Stranger => &stranger,
            Admin => &admin,
        };
        let web_app = &seed.web.app.client_id;
        let reply = act(api, action, web_app, beta.client_id(), &made).await;
        let what = format!("row {row}, {who:?} {action:?}");
        assert_eq!(reply.status, expected, "{what}: {}", reply.body);
        let body = &reply.body;
        // What the answer says, beyond its status.
        match (who, action) {
            (Owner, ListOrgs) => {
                assert_eq!(reply.count(), 1, "{what}: {body}");
                assert_eq!(body["items"][0]["name"], "acme", "{what}");
            }
            (Admin, ListOrgs) => assert_eq!(reply.count(), 2, "{what}: {body}"),
            (Owner, CreateOrg) => {
                assert_eq!(reply.content_type, "application/problem+json", "{what}");
                assert_eq!(body["status"], 403, "{what}");
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains("grantor:orgs"), "{what}: {body}");
            }
            (Member, ListApps) => assert!(reply.count() >= 3, "{what}: {body}"),
            (Member, CreateApp) => {
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains("developer"), "{what}: {body}");
            }
            (Developer, CreateApp) => {
                made.app = body["client_id"].as_str().unwrap().to_string();
                made.first_secret = body["client_secret"].as_str().unwrap().to_string();
            }
            (Member, ReadApp) => {
                assert!(
                    body.get("client_secret").is_none(),
                    "a secret is shown once"
                );
            }
            (Owner, RegenerateSecret) => {
                assert_ne!(body["client_secret"], made.first_secret.as_str());
                let old = Some((made.app.as_str(), made.first_secret.as_str()));
                let (status, _, _) = srv
                    .post_form("/oauth2/introspect", old, &[("token", "x")])
                    .await;
                assert_eq!(status, 401, "the old secret stopped working");
            }
            (Developer, RenameApp) => assert_eq!(body["name"], "Reports 2", "{what}"),
            (Member, ListAddedApps) => {
                assert_eq!(reply.count(), 1, "{what}: {body}");
                let cursor = body["next_cursor"].as_str().expect("a second page");
                let page = format!("limit=1&cursor={cursor}");
                let next = member.added_apps("acme", &page).await.body;
                assert_ne!(next["items"][0], body["items"][0]);
            }
            (Owner, DemoteDeveloper) => assert_eq!(body["role"], "member", "{what}"),
            (Member, CreateApiToken) => {
                assert!(body["secret"].as_str().unwrap().starts_with("gr_api_"));
                made.api_token = body["id"].as_str().unwrap().to_string();
            }
            (Member, ListApiTokens) => {
                let listed = body.to_string();
                assert!(listed.contains(&made.api_token) && !listed.contains("gr_api_"));
            }
            _ => {}
        }
    }
}

async fn admin_clients_manage_their_own_organization_only(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
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
            "--scope",
            "grantor:members",
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let (ok, _, stderr) = cli(
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
    let token = srv.oauth().access_token(id, secret, &[]).await;
    let client = srv.api(&token);
    let portal = json!({"type": "web", "name": "Portal", "redirect_uris": [WEB_REDIRECT]});
    client.create_app("acme", portal).await.expect(201);
    assert_eq!(
        client.apps("beta").await.status,
        404,
        "another organization is out of sight"
    );
    let reply = client.members("acme").await;
    assert_eq!(
        reply.status, 403,
        "grantor:members was not granted: {}",
        reply.body
    );
    assert_eq!(client.api_tokens().await.status, 404);
    let _ = (acme, beta);
}

async fn bad_tokens_get_401_with_a_bearer_challenge(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    // A token meant for another API (the Trading API's audience).
    let trading = srv.token_for(&seed.seed, &[]).await;
    let expiring = srv
        .user_token("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    assert_eq!(srv.api(&expiring).orgs().await.status, 200);
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
    let developer = ["grantor:apps", "grantor:resources"];
    let developer = srv.api_as("acme", "dev@acme.example", &developer).await;
    let member = srv.api_as("acme", &seed.email, &["grantor:apps"]).await;
    let stranger = srv.api_as("beta", "bob@beta.example", &OWNER_SCOPES).await;

    let ledger = json!({"identifier": "https://ledger.example.com", "name": "Ledger",
                        "scopes": [{"name": "ledger:read", "description": "Read the ledger"}]});
    let rs = developer
        .create_resource_server("acme", ledger)
        .await
        .expect(201);
    let path = format!(
        "/api/v1/orgs/acme/resource-servers/{}",
        rs["id"].as_str().unwrap()
    );
    let shown = member.get(&path).await.expect(200);
    assert_eq!(shown["name"], "Ledger");
    assert_eq!(stranger.get(&path).await.status, 404);
    let change = json!({"name": "General ledger", "scopes": [
        {"name": "ledger:read", "description": "Read"},
        {"name": "ledger:write", "description": "Post entries"}]});
    assert_eq!(member.patch(&path, change.clone()).await.status, 403);
    let changed = developer.patch(&path, change).await.expect(200);
    assert_eq!(changed["scopes"].as_array().unwrap().len(), 2);
    // Scope names are unique within a resource server only: another API may have its own
    // trades:read, but one API may not list a name twice.
    let ours = json!({"scopes": [{"name": "trades:read", "description": "ours"}]});
    developer.patch(&path, ours).await.expect(200);
    let twice =
        json!({"scopes": [{"name": "a:b", "description": ""}, {"name": "a:b", "description": ""}]});
    let reply = developer.patch(&path, twice).await;
    assert_eq!(
        (reply.status, reply.body["errors"][0]["field"].as_str()),
        (422, Some("scopes[1].name")),
        "{}",
        reply.body
    );
    assert_eq!(developer.delete(&path).await.status, 204);
    assert_eq!(developer.get(&path).await.status, 404);
}

async fn a_retried_create_with_an_idempotency_key_makes_one_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let developer = srv
        .api_as("acme", "dev@acme.example", &["grantor:apps"])
        .await;
    let apps = "/api/v1/orgs/acme/apps";
    let count = || async { developer.apps("acme").await.count() };
    let before = count().await;
    let app = json!({"type": "server", "name": "Nightly", "scopes": ["trades:read"]});
    let (status, replayed, first) = developer.post_once(apps, "create-nightly", &app).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = developer.post_once(apps, "create-nightly", &app).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(
        again, first,
        "the same app and the same secret, shown again"
    );
    assert_eq!(count().await, before + 1, "one app");

    let other = json!({"type": "server", "name": "Other"});
    let (status, _, body) = developer.post_once(apps, "create-nightly", &other).await;
    assert_eq!(status, 422, "a key belongs to one request: {body}");

    // A refused request leaves its key free for the corrected retry.
    let bad = json!({"type": "server", "name": ""});
    let (status, _, _) = developer.post_once(apps, "create-weekly", &bad).await;
    assert_eq!(status, 422);
    let good = json!({"type": "server", "name": "Weekly"});
    let (status, replayed, _) = developer.post_once(apps, "create-weekly", &good).await;
    assert_eq!((status, replayed), (201, false));
    assert_eq!(count().await, before + 2);
}

/// Every operation the management API serves, as the issue lists them.
const OPERATIONS: [(&str, &str); 33] = [
    ("get", "/api/v1/orgs"),
    ("post", "/api/v1/orgs"),
    ("get", "/api/v1/orgs/{org}"),
    ("patch", "/api/v1/orgs/{org}"),
    ("post", "/api/v1/orgs/{org}/invitations"),
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
    ("put", "/api/v1/orgs/{org}/apps/{app}/keys"),
    ("get", "/api/v1/orgs/{org}/added-apps"),
    ("post", "/api/v1/orgs/{org}/added-apps"),
    ("patch", "/api/v1/orgs/{org}/added-apps/{app}"),
    ("delete", "/api/v1/orgs/{org}/added-apps/{app}"),
    ("get", "/api/v1/orgs/{org}/audit-events"),
    ("get", "/api/v1/me/api-tokens"),
    ("post", "/api/v1/me/api-tokens"),
    ("delete", "/api/v1/me/api-tokens/{id}"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/orgs/{org}/registration"),
    ("put", "/api/v1/orgs/{org}/registration"),
    ("delete", "/api/v1/orgs/{org}/registration"),
];

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let anonymous = srv.api_anonymous();
    let doc = anonymous.get("/api/v1/openapi.json").await.expect(200);
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
        let reply = anonymous.call(method.clone(), &concrete, None).await;
        assert_eq!(reply.status, 401, "{method} {concrete}");
        assert_eq!(reply.content_type, "application/problem+json");
    }
}
