//! Tenant isolation on the management surface: what the second security review reproduced,
//! each probe sent again and its answer checked. No organization, and no one inside it with a
//! smaller role, reaches past their share.

use crate::both_backends;
use crate::support::api::{Api, PLATFORM_ADMIN};
use crate::support::oauth::{self, decode_payload};
use crate::support::{Backend, PASSWORD, TestServer, server_app};
use grantor_core::model::{Caller, Role, ScopeDefinition};
use grantor_core::store::{AuditLog, AuditQuery, ResourceServerStore, UserStore, Window};
use serde_json::{Value, json};

both_backends!(
    the_issuers_own_urls_are_no_resource_server,
    api_tokens_are_managed_with_their_scope_in_their_organization,
    an_api_token_is_minted_within_the_calling_tokens_scopes,
    an_admin_client_cannot_take_hold_of_apps_above_its_scopes,
    the_only_owner_stays_an_owner_even_under_concurrent_changes,
    a_replayed_answer_reaches_only_a_caller_who_may_ask_now,
    an_organizations_apis_reach_tokens_only_in_its_context,
    names_refuse_control_characters_and_audit_details_are_structured,
    unknown_and_foreign_organizations_look_the_same,
    an_invitation_dies_with_its_senders_right,
    an_apps_token_lifetime_returns_to_the_default,
    idempotency_and_list_answers_carry_their_own_status,
    audit_events_of_one_second_list_in_the_order_written,
);

/// A server app's token response from its client credentials, which must be issued.
async fn app_token(srv: &TestServer, id: &str, secret: &str, extra: &[(&str, &str)]) -> Value {
    let (status, body) = srv.oauth().client_credentials(id, secret, extra).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Acme seeded for sign-in, its member made an owner, and the management API as them with
/// `scopes`.
async fn acme_owner<'a>(
    srv: &'a TestServer,
    scopes: &[&str],
) -> (crate::support::SignInSeed, Api<'a>) {
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, &seed.email, Role::Owner)
        .await;
    let owner = srv.api_as("acme", &seed.email, scopes).await;
    (seed, owner)
}

/// A server app of `org` holding `scopes`, added to it by the operator with all of them.
async fn added_server_app(srv: &TestServer, org: &str, scopes: &[&str]) -> (String, String) {
    let app = srv.added_app(org, server_app("robot", scopes)).await;
    (app.app.client_id, app.client_secret.unwrap())
}

async fn the_issuers_own_urls_are_no_resource_server(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let developer = srv
        .api_as("acme", "dev@acme.example", &["grantor:resources"])
        .await;
    for identifier in [srv.url("/api/v1"), srv.issuer.clone(), srv.url("/oauth2")] {
        let mine = json!({"identifier": identifier, "name": "Mine",
                          "scopes": [{"name": "mine:read", "description": ""}]});
        let reply = developer.create_resource_server("acme", mine).await;
        assert_eq!(
            (reply.status, reply.body["errors"][0]["field"].as_str()),
            (422, Some("identifier")),
            "{identifier}: {}",
            reply.body
        );
    }
    // A resource server that took the management API's identifier before this was refused
    // (written to the store directly, as an old installation may hold it).
    let beta = srv.seed("beta").await;
    let legacy = grantor_core::model::ResourceServer {
        id: "rs_legacy".into(),
        org_id: beta.org.id.clone(),
        identifier: srv.url("/api/v1"),
        name: "Taken".into(),
        scopes: vec![ScopeDefinition {
            name: "legacy:read".into(),
            description: String::new(),
        }],
        created_at: 0,
    };
    let audit = grantor_core::model::AuditEvent {
        id: "aud_legacy".into(),
        at: 0,
        actor: "cli".into(),
        action: grantor_core::model::AuditAction::ResourceServerCreate,
        target: "rs_legacy".into(),
        org_id: Some(beta.org.id.clone()),
        source: None,
        outcome: grantor_core::model::AuditOutcome::Success,
        details: json!({}),
    };
    srv.state
        .store
        .create_resource_server(&legacy, &audit)
        .await
        .unwrap();
    // Beta's never-added server app cannot read acme's management tokens through it.
    let spy = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &beta.org.id,
            server_app("spy", &["trades:read"]),
        )
        .await
        .unwrap();
    let acme_admin = srv.user_token("acme", &seed.email, &["grantor:apps"]).await;
    let (status, _, info) = srv
        .post_form(
            "/oauth2/introspect",
            oauth::basic(&spy),
            &[("token", &acme_admin)],
        )
        .await;
    assert_eq!((status, &info), (200, &json!({"active": false})));
    // A token with the legacy scope carries neither it nor the management audience, and the
    // API refuses a token without a grantor:* scope whatever its audience.
    let (id, secret) = added_server_app(&srv, &beta.org.id, &["legacy:read"]).await;
    let token = app_token(&srv, &id, &secret, &[]).await;
    assert_eq!(token["scope"], "", "{token}");
    let legacy_token = token["access_token"].as_str().unwrap();
    let reply = srv.api(legacy_token).orgs().await;
    assert!(reply.status == 401 || reply.status == 403, "{reply:?}");
    let resource_only = srv.api_as("acme", &seed.email, &["trades:read"]).await;
    let reply = resource_only.orgs().await;
    assert!(reply.status == 401 || reply.status == 403, "{reply:?}");
}

async fn api_tokens_are_managed_with_their_scope_in_their_organization(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let beta = srv.seed("beta").await;
    srv.member(&beta.org.id, &seed.email, Role::Member).await;
    let in_beta = srv
        .api_as("beta", &seed.email, &["grantor:api-tokens"])
        .await;
    let apps_only = srv.api_as("acme", &seed.email, &["grantor:apps"]).await;
    let in_acme = srv
        .api_as("acme", &seed.email, &["grantor:api-tokens"])
        .await;

    assert_eq!(apps_only.api_tokens().await.status, 403);
    let listed = in_acme.api_tokens().await.expect(200);
    let items = listed["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|t| t["org_id"] == seed.seed.org.id.as_str()),
        "only acme's: {listed}"
    );
    let theirs = in_beta.api_tokens().await.body;
    let beta_token = theirs["items"][0]["id"].as_str().unwrap();
    assert_eq!(apps_only.revoke_api_token(beta_token).await.status, 403);
    assert_eq!(
        in_acme.revoke_api_token(beta_token).await.status,
        404,
        "beta's token is not reachable from acme"
    );
    assert_eq!(
        in_beta.orgs().await.status,
        200,
        "the beta token still works"
    );
}

async fn an_api_token_is_minted_within_the_calling_tokens_scopes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let narrow = srv
        .api_as("acme", "dev@acme.example", &["grantor:api-tokens"])
        .await;
    for scopes in [
        json!(["grantor:apps"]),
        json!(["grantor:resources"]),
        json!(["trades:read"]),
    ] {
        let wider = json!({"name": "wider", "scopes": scopes, "expires_in": 31536000});
        let reply = narrow.create_api_token(wider).await;
        assert_eq!(reply.status, 403, "{scopes}: {}", reply.body);
    }
    let same = json!({"name": "same", "scopes": ["grantor:api-tokens"]});
    narrow.create_api_token(same).await.expect(201);
}

async fn an_admin_client_cannot_take_hold_of_apps_above_its_scopes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let acme_id = acme.org.id.as_str();
    let (apps_id, apps_secret) = added_server_app(&srv, acme_id, &["grantor:apps"]).await;
    let (members_id, _) =
        added_server_app(&srv, acme_id, &["grantor:members", "grantor:audit"]).await;
    // An app of acme that beta added with grantor:members.
    let m = &srv.state.manager;
    let shared = m
        .create_app(
            &Caller::operator(),
            acme_id,
            server_app("shared", &["grantor:members"]),
        )
        .await
        .unwrap();
    m.add_app_to_organization(
        &Caller::operator(),
        &shared.app.client_id,
        &beta.org.id,
        vec!["grantor:members".into()],
    )
    .await
    .unwrap();
    let admin = app_token(&srv, &apps_id, &apps_secret, &[]).await;
    let admin = srv.api(admin["access_token"].as_str().unwrap());
    for target in [&members_id, &shared.app.client_id] {
        let reply = admin
            .regenerate_secret("acme", target, Some(json!({})))
            .await;
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.body.get("client_secret").is_none());
    }
    // Nor may it add an app to its organization with more than it holds.
    let more = json!({"client_id": acme.client_id(), "scopes": ["trades:write"]});
    let reply = admin.add_app("acme", more).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // Its own secret, within its own scopes, it may regenerate.
    admin
        .regenerate_secret("acme", &apps_id, Some(json!({})))
        .await
        .expect(200);
}

async fn the_only_owner_stays_an_owner_even_under_concurrent_changes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "owner@acme.example", Role::Owner).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &["grantor:members"])
        .await;
    // Re-adding the only owner with another role is the same demotion as PATCH.
    srv.member(&org, &seed.email, Role::Member).await;
    let demotion = json!({"user": "owner@acme.example", "role": "member"});
    let reply = owner.add_member("acme", demotion).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    // Two owners demoting each other at once: one of them stays an owner, every time.
    let m = &srv.state.manager;
    let op = Caller::operator();
    for round in 0..5 {
        srv.member(&org, &seed.email, Role::Owner).await;
        let (a, b) = tokio::join!(
            m.set_member_role(&op, &org, "owner@acme.example", Role::Member),
            m.set_member_role(&op, &org, &seed.email, Role::Member),
        );
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} {b:?}");
        let owners = m
            .members(&Caller::operator(), &org, Window::first(100))
            .await
            .unwrap()
            .into_iter()
            .filter(|member| member.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}");
        srv.member(&org, "owner@acme.example", Role::Owner).await;
    }
}

async fn a_replayed_answer_reaches_only_a_caller_who_may_ask_now(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "dev@acme.example", Role::Developer).await;
    let developer = srv
        .api_as("acme", "dev@acme.example", &["grantor:apps"])
        .await;
    let app = json!({"type": "server", "name": "nightly", "scopes": ["trades:read"]});
    let apps = "/api/v1/orgs/acme/apps";
    let (status, replayed, first) = developer.post_once(apps, "k1", &app).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    // The same user through a token without grantor:apps: refused, and no secret.
    let narrow = srv
        .api_as("acme", "dev@acme.example", &["grantor:api-tokens"])
        .await;
    let (status, replayed, body) = narrow.post_once(apps, "k1", &app).await;
    assert_eq!((status, replayed), (403, false), "{body}");
    assert!(body.get("client_secret").is_none());
    // With the right token, the first answer comes back.
    let (status, replayed, again) = developer.post_once(apps, "k1", &app).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again["client_secret"], first["client_secret"]);
    // Not once the user has left the organization.
    srv.state
        .manager
        .remove_member(&Caller::operator(), &org, "dev@acme.example")
        .await
        .unwrap();
    let (status, _, body) = developer.post_once(apps, "k1", &app).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.get("client_secret").is_none());
}

async fn an_organizations_apis_reach_tokens_only_in_its_context(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let m = &srv.state.manager;
    // Both organizations declare orders:read, each on its own API.
    for (org, api) in [
        (&acme.org, "https://orders.acme.example"),
        (&beta.org, "https://orders.beta.example"),
    ] {
        m.create_resource_server(
            &Caller::operator(),
            &org.id,
            api,
            "Orders",
            vec![ScopeDefinition {
                name: "orders:read".into(),
                description: "Read orders".into(),
            }],
        )
        .await
        .unwrap();
    }
    // Acme's app, added by acme, gets acme's orders API, never beta's.
    let (id, secret) = added_server_app(&srv, &acme.org.id, &["orders:read"]).await;
    let token = app_token(&srv, &id, &secret, &[]).await;
    assert_eq!(token["scope"], "orders:read");
    let claims = decode_payload(token["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://orders.acme.example", "{claims}");
    let (status, body) = srv
        .oauth()
        .client_credentials(&id, &secret, &[("resource", "https://orders.beta.example")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    // Added by beta's owner, the same app acts in beta with beta's API.
    m.add_app_to_organization(
        &Caller::operator(),
        &id,
        &beta.org.id,
        vec!["orders:read".into()],
    )
    .await
    .unwrap();
    let token = app_token(&srv, &id, &secret, &[("organization", "beta")]).await;
    let claims = decode_payload(token["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["aud"].as_str(), claims["org_id"].as_str()),
        (
            Some("https://orders.beta.example"),
            Some(beta.org.id.as_str())
        )
    );
    // Two APIs of one organization with the same scope name: `resource` picks one.
    m.create_resource_server(
        &Caller::operator(),
        &acme.org.id,
        "https://orders-eu.acme.example",
        "Orders EU",
        vec![ScopeDefinition {
            name: "orders:read".into(),
            description: String::new(),
        }],
    )
    .await
    .unwrap();
    let (status, body) = srv
        .oauth()
        .client_credentials(&id, &secret, &[("organization", "acme")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let token = app_token(
        &srv,
        &id,
        &secret,
        &[
            ("organization", "acme"),
            ("resource", "https://orders-eu.acme.example"),
        ],
    )
    .await;
    let claims = decode_payload(token["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://orders-eu.acme.example");
    // An API token carries only its own organization's API scopes.
    let member = srv.seed_sign_in("gamma").await;
    let refused = m
        .create_api_token(
            &Caller::operator(),
            "gamma",
            &member.email,
            grantor_core::manage::NewApiToken {
                name: "x".into(),
                scopes: vec!["orders:read".into()],
                expires_in: None,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(grantor_core::ServiceError::InvalidFields(_))),
        "{refused:?}"
    );
}

async fn names_refuse_control_characters_and_audit_details_are_structured(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme_owner(
        &srv,
        &["grantor:apps", "grantor:resources", "grantor:audit"],
    )
    .await;
    for (name, field) in [
        ("two\nlines", "name"),
        ("nul\u{0}here", "name"),
        ("tab\there", "name"),
    ] {
        let app = json!({"type": "server", "name": name, "scopes": ["trades:read"]});
        let reply = owner.create_app("acme", app).await;
        assert_eq!(
            (reply.status, reply.body["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{name:?}: {}",
            reply.body
        );
    }
    let spaced = json!({"identifier": "https://api.example.com/a b", "name": "A",
                        "scopes": [{"name": "a:b", "description": ""}]});
    let reply = owner.create_resource_server("acme", spaced).await;
    assert_eq!(
        (reply.status, reply.body["errors"][0]["field"].as_str()),
        (422, Some("identifier")),
        "{}",
        reply.body
    );
    // NUL in a path or a query is refused before any lookup, never a 5xx.
    for path in [
        "/api/v1/orgs/ac%00me/apps",
        "/api/v1/orgs/acme/audit-events?actor=a%00b",
    ] {
        let reply = owner.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
    }
    // An app name that looks like more details stays one value.
    let app =
        json!({"type": "server", "name": "x scopes=grantor:members", "scopes": ["trades:read"]});
    assert_eq!(owner.create_app("acme", app).await.status, 201);
    let events = srv
        .state
        .store
        .audit_events(
            &seed.seed.org.id,
            &AuditQuery {
                action: Some("app.create".into()),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events[0].details,
        json!({
            "type": "server",
            "name": "x scopes=grantor:members",
            "token_endpoint_auth_method": "client_secret_basic"
        })
    );
}

async fn unknown_and_foreign_organizations_look_the_same(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.seed("beta").await;
    let acme = srv
        .api_as("acme", &seed.email, &["grantor:api-tokens"])
        .await;
    let mut answers = Vec::new();
    for org in ["beta", "no-such-org"] {
        let token = json!({"org": org, "name": "x", "scopes": ["grantor:api-tokens"]});
        let reply = acme.create_api_token(token).await;
        answers.push((
            reply.status,
            reply.body["detail"]
                .as_str()
                .unwrap_or_default()
                .replace(org, "ORG"),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 404);
}

async fn an_invitation_dies_with_its_senders_right(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "owner@acme.example", Role::Owner).await;
    srv.member(&org, &seed.email, Role::Owner).await;
    let inviter = srv
        .state
        .store
        .user_by_email("owner@acme.example")
        .await
        .unwrap()
        .unwrap();
    let as_inviter = Caller::new(
        grantor_core::model::Actor::User {
            user_id: inviter.id,
            platform_admin: false,
            token: None,
        },
        None,
    );
    let m = &srv.state.manager;
    let (_, link) = m
        .invite_member(&as_inviter, &org, "new@acme.example", Role::Owner)
        .await
        .unwrap();
    m.set_member_role(
        &Caller::operator(),
        &org,
        "owner@acme.example",
        Role::Member,
    )
    .await
    .unwrap();
    let accepted = m
        .accept_invitation(
            &link,
            grantor_core::manage::Acceptance::NewUser {
                name: "New",
                password: PASSWORD,
            },
            None,
        )
        .await;
    assert!(accepted.is_err(), "{accepted:?}");
    assert!(
        srv.state
            .store
            .user_by_email("new@acme.example")
            .await
            .unwrap()
            .is_none(),
        "no account was made"
    );
}

async fn an_apps_token_lifetime_returns_to_the_default(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, &seed.email, Role::Developer)
        .await;
    let developer = srv.api_as("acme", &seed.email, &["grantor:apps"]).await;
    let bot = seed.seed.client_id();
    let ttl = json!({"access_token_ttl": 120});
    let body = developer.update_app("acme", bot, ttl).await.expect(200);
    assert_eq!(body["access_token_ttl"], 120, "{body}");
    let ttl = json!({"access_token_ttl": 0});
    let body = developer.update_app("acme", bot, ttl).await.expect(200);
    assert!(
        body.get("access_token_ttl").is_none(),
        "back to the default: {body}"
    );
    let issued = app_token(&srv, seed.seed.client_id(), seed.seed.secret(), &[]).await;
    assert_eq!(issued["expires_in"], 900);
}

async fn idempotency_and_list_answers_carry_their_own_status(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.platform_admin().await;
    srv.member(&seed.seed.org.id, PLATFORM_ADMIN, Role::Member)
        .await;
    let admin = srv
        .api_as("acme", PLATFORM_ADMIN, &["grantor:orgs", "grantor:apps"])
        .await;
    // A method the path does not serve is 405, Idempotency-Key or not.
    let resp = srv
        .http
        .delete(srv.url("/api/v1/orgs"))
        .bearer_auth(admin.token())
        .header("idempotency-key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // An empty limit is not a number.
    let reply = admin.get("/api/v1/orgs?limit=").await;
    assert_eq!(
        (reply.status, reply.body["errors"][0]["field"].as_str()),
        (422, Some("limit")),
        "{}",
        reply.body
    );
    // A key reused for another request: the body's status is the answer's.
    let orgs = "/api/v1/orgs";
    let (status, _, _) = admin.post_once(orgs, "k", &json!({"name": "one"})).await;
    assert_eq!(status, 201);
    let (status, _, body) = admin.post_once(orgs, "k", &json!({"name": "two"})).await;
    assert_eq!(
        (status, body["status"].as_u64()),
        (422, Some(422)),
        "{body}"
    );
}

async fn audit_events_of_one_second_list_in_the_order_written(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (_, owner) = acme_owner(&srv, &["grantor:apps", "grantor:audit"]).await;
    let m = &srv.state.manager;
    let mut made = Vec::new();
    for i in 0..12 {
        let app = m
            .create_app(
                &Caller::operator(),
                "acme",
                server_app(&format!("app{i:02}"), &["trades:read"]),
            )
            .await
            .unwrap();
        made.push(app.app.client_id);
    }
    let body = owner
        .audit_events("acme", "action=app.create&limit=12")
        .await
        .expect(200);
    let listed: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    made.reverse();
    assert_eq!(listed, made, "newest first, in the order written");
}
