//! The management API refuses bad input with every invalid field named at once, in its
//! problem format: app, resource server, member, API token and organization bodies, and list
//! parameters.

use crate::api::*;
use crate::both_backends;
use crate::support::{Backend, TestServer};
use grantor_core::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

both_backends!(
    an_invalid_app_is_refused_with_every_invalid_field,
    every_kind_of_body_is_refused_with_every_invalid_field,
    lists_and_the_audit_log_name_every_invalid_parameter,
);

async fn an_invalid_app_is_refused_with_every_invalid_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed_sign_in("acme").await.seed.org.id;
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    let (status, content_type, problem) = call(
        &srv,
        Some(&owner),
        Method::POST,
        "/api/v1/orgs/acme/apps",
        Some(json!({
            "type": "web",
            "name": "",
            "redirect_uris": ["http://portal.example.com/callback"],
            "scopes": ["no:such-scope"],
            "access_token_ttl": 5,
        })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["access_token_ttl", "name", "redirect_uris", "scopes"],
        "{problem}"
    );
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["message"].as_str().unwrap().is_empty())
    );
    // Nothing was made.
    let (_, _, apps) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/apps",
        None,
    )
    .await;
    assert_eq!(apps["items"].as_array().unwrap().len(), 3, "{apps}");
}

async fn every_kind_of_body_is_refused_with_every_invalid_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    create_platform_admin(&srv).await;
    srv.member(&acme, "root@ops.example", Role::Member).await;
    let admin = user_token(&srv, "acme", "root@ops.example", &["grantor:orgs"]).await;
    let post = Method::POST;
    let patch = Method::PATCH;

    // Organizations have one field.
    let org = Some(json!({"name": "org_1"}));
    assert_eq!(
        refused_fields(&srv, &admin, post.clone(), "/api/v1/orgs", org).await,
        ["name"]
    );

    // Resource servers: the identifier, the name, and each scope's name and description.
    let servers = "/api/v1/orgs/acme/resource-servers";
    let body = json!({
        "identifier": "not a uri",
        "name": "",
        "scopes": [
            {"name": "ledger:read", "description": "Read the ledger"},
            {"name": "bad name", "description": "Spaces are not allowed"},
            {"name": "grantor:apps", "description": "x".repeat(201)},
            {"name": "ledger:read", "description": "Again"},
        ],
    });
    assert_eq!(
        refused_fields(&srv, &owner, post.clone(), servers, Some(body)).await,
        [
            "identifier",
            "name",
            "scopes[1].name",
            "scopes[2].description",
            "scopes[2].name",
            "scopes[3].name"
        ]
    );
    let body = json!({"identifier": "https://ledger.example.com", "name": "Ledger",
        "scopes": [{"name": 7, "description": "Not a string"}]});
    assert_eq!(
        refused_fields(&srv, &owner, post.clone(), servers, Some(body)).await,
        ["scopes[0].name"],
        "a value of the wrong type is named too"
    );
    let (_, _, listed) = call(&srv, Some(&owner), Method::GET, servers, None).await;
    let listed = listed["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "nothing was made: {listed:?}");
    let server = format!("{servers}/{}", listed[0]["id"].as_str().unwrap());
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            patch.clone(),
            &server,
            Some(json!({"name": " ", "scopes": []})),
        )
        .await,
        ["name", "scopes"]
    );

    // Members: the email and the role, together.
    let members = "/api/v1/orgs/acme/members";
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            post.clone(),
            members,
            Some(json!({"user": "not an email", "role": "boss"})),
        )
        .await,
        ["role", "user"]
    );
    let ann = format!("{members}/{}", seed.email);
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            patch.clone(),
            &ann,
            Some(json!({"role": "chief"}))
        )
        .await,
        ["role"]
    );

    // Added apps: the app ID and the scopes.
    let added = "/api/v1/orgs/acme/added-apps";
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            post.clone(),
            added,
            Some(json!({"client_id": "app_nope", "scopes": []})),
        )
        .await,
        ["client_id", "scopes"]
    );
    let bot = format!("{added}/{}", seed.seed.client_id());
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            patch.clone(),
            &bot,
            Some(json!({"scopes": ["openid"]})),
        )
        .await,
        ["scopes"],
        "the bot does not ask for openid"
    );

    // API tokens: the name, the scopes and the lifetime.
    let tokens = "/api/v1/me/api-tokens";
    let body = json!({"name": "", "scopes": ["grantor:orgs", "no:such"], "expires_in": 5});
    assert_eq!(
        refused_fields(&srv, &owner, post.clone(), tokens, Some(body)).await,
        ["expires_in", "name", "scopes"]
    );

    // Apps after registration, and their secrets.
    let web = format!("/api/v1/orgs/acme/apps/{}", seed.web.app.client_id);
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            patch.clone(),
            &web,
            Some(json!({"name": "", "redirect_uris": ["ftp://x"], "access_token_ttl": 5})),
        )
        .await,
        ["access_token_ttl", "name", "redirect_uris"]
    );
    let secret = format!("/api/v1/orgs/acme/apps/{}/secret", seed.seed.client_id());
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            post.clone(),
            &secret,
            Some(json!({"grace_seconds": 90_000})),
        )
        .await,
        ["grace_seconds"]
    );
}

async fn lists_and_the_audit_log_name_every_invalid_parameter(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed_sign_in("acme").await.seed.org.id;
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    let get = Method::GET;
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            get.clone(),
            "/api/v1/orgs/acme/audit-events?since=yesterday&limit=0&cursor=%25%25",
            None,
        )
        .await,
        ["cursor", "limit", "since"]
    );
    assert_eq!(
        refused_fields(
            &srv,
            &owner,
            get.clone(),
            "/api/v1/orgs/acme/members?limit=many&cursor=zz",
            None,
        )
        .await,
        ["cursor", "limit"]
    );
    let (status, _, page) = call(
        &srv,
        Some(&owner),
        get,
        "/api/v1/orgs/acme/members?limit=1",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
}

/// Calls the API expecting a 422 problem; returns the fields it names, sorted, each with a
/// reason.
async fn refused_fields(
    srv: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Vec<String> {
    let (status, content_type, problem) = call(srv, Some(token), method, path, body).await;
    assert_eq!(status, 422, "{path}: {problem}");
    assert_eq!(content_type, "application/problem+json");
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors
            .iter()
            .all(|e| !e["message"].as_str().unwrap_or_default().is_empty()),
        "{problem}"
    );
    let mut fields: Vec<String> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    fields
}
