//! The management API refuses bad input with every invalid field named at once, in its
//! problem format: app, resource server, member, API token and organization bodies, and list
//! parameters.

use crate::both_backends;
use crate::support::api::{OWNER_SCOPES, PLATFORM_ADMIN};
use crate::support::{Backend, TestServer};
use grantor_core::model::Role;
use serde_json::json;

both_backends!(
    an_invalid_app_is_refused_with_every_invalid_field,
    every_kind_of_body_is_refused_with_every_invalid_field,
    lists_and_the_audit_log_name_every_invalid_parameter,
);

async fn an_invalid_app_is_refused_with_every_invalid_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed_sign_in("acme").await.seed.org.id;
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let invalid = json!({
        "type": "web",
        "name": "",
        "redirect_uris": ["http://portal.example.com/callback"],
        "scopes": ["no:such-scope"],
        "access_token_ttl": 5,
    });
    let problem = owner.create_app("acme", invalid).await;
    assert_eq!(
        problem.refused_fields(),
        ["access_token_ttl", "name", "redirect_uris", "scopes"],
        "{}",
        problem.body
    );
    // Nothing was made.
    let apps = owner.apps("acme").await;
    assert_eq!(apps.count(), 3, "{}", apps.body);
}

async fn every_kind_of_body_is_refused_with_every_invalid_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    srv.platform_admin().await;
    srv.member(&acme, PLATFORM_ADMIN, Role::Member).await;
    let admin = srv.api_as("acme", PLATFORM_ADMIN, &["grantor:orgs"]).await;

    // Organizations have one field.
    let org = json!({"name": "org_1"});
    assert_eq!(admin.create_org(org).await.refused_fields(), ["name"]);

    // Resource servers: the identifier, the name, and each scope's name and description.
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
        owner
            .create_resource_server("acme", body)
            .await
            .refused_fields(),
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
        owner
            .create_resource_server("acme", body)
            .await
            .refused_fields(),
        ["scopes[0].name"],
        "a value of the wrong type is named too"
    );
    let listed = owner.resource_servers("acme").await.body;
    let listed = listed["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "nothing was made: {listed:?}");
    let server = format!(
        "/api/v1/orgs/acme/resource-servers/{}",
        listed[0]["id"].as_str().unwrap()
    );
    let change = json!({"name": " ", "scopes": []});
    assert_eq!(
        owner.patch(&server, change).await.refused_fields(),
        ["name", "scopes"]
    );

    // Members: the email and the role, together.
    let member = json!({"user": "not an email", "role": "boss"});
    assert_eq!(
        owner.add_member("acme", member).await.refused_fields(),
        ["role", "user"]
    );
    let role = json!({"role": "chief"});
    assert_eq!(
        owner
            .update_member("acme", &seed.email, role)
            .await
            .refused_fields(),
        ["role"]
    );

    // Added apps: the app ID and the scopes.
    let addition = json!({"client_id": "app_nope", "scopes": []});
    assert_eq!(
        owner.add_app("acme", addition).await.refused_fields(),
        ["client_id", "scopes"]
    );
    let bot = format!("/api/v1/orgs/acme/added-apps/{}", seed.seed.client_id());
    let scopes = json!({"scopes": ["openid"]});
    assert_eq!(
        owner.patch(&bot, scopes).await.refused_fields(),
        ["scopes"],
        "the bot does not ask for openid"
    );

    // API tokens: the name, the scopes and the lifetime.
    let body = json!({"name": "", "scopes": ["grantor:orgs", "no:such"], "expires_in": 5});
    assert_eq!(
        owner.create_api_token(body).await.refused_fields(),
        ["expires_in", "name", "scopes"]
    );

    // Apps after registration, and their secrets.
    let web = &seed.web.app.client_id;
    let change = json!({"name": "", "redirect_uris": ["ftp://x"], "access_token_ttl": 5});
    assert_eq!(
        owner.update_app("acme", web, change).await.refused_fields(),
        ["access_token_ttl", "name", "redirect_uris"]
    );
    let grace = Some(json!({"grace_seconds": 90_000}));
    assert_eq!(
        owner
            .regenerate_secret("acme", seed.seed.client_id(), grace)
            .await
            .refused_fields(),
        ["grace_seconds"]
    );
}

async fn lists_and_the_audit_log_name_every_invalid_parameter(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed_sign_in("acme").await.seed.org.id;
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    assert_eq!(
        owner
            .audit_events("acme", "since=yesterday&limit=0&cursor=%25%25")
            .await
            .refused_fields(),
        ["cursor", "limit", "since"]
    );
    assert_eq!(
        owner
            .get("/api/v1/orgs/acme/members?limit=many&cursor=zz")
            .await
            .refused_fields(),
        ["cursor", "limit"]
    );
    let page = owner
        .get("/api/v1/orgs/acme/members?limit=1")
        .await
        .expect(200);
    assert!(page["next_cursor"].is_string(), "{page}");
}
