//! Tenant isolation on the management surface: what the second security review reproduced,
//! each probe sent again and its answer checked. No organization, and no one inside it with a
//! smaller role, reaches past their share.

use crate::api::{call, create_platform_admin, post_once, user_token};
use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, server_app};
use grantor_core::model::{Caller, Role, ScopeDefinition};
use grantor_core::store::{AuditLog, AuditQuery, ResourceServerStore, UserStore, Window};
use reqwest::Method;
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

/// An access token from a server app's client credentials, and the token response.
async fn app_token(srv: &TestServer, id: &str, secret: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let (status, _, body) = srv
        .post_form("/oauth2/token", Some((id, secret)), &form)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Acme seeded for sign-in, its member made an owner, and a management token of theirs with
/// `scopes`.
async fn acme_owner(srv: &TestServer, scopes: &[&str]) -> (crate::support::SignInSeed, String) {
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, &seed.email, Role::Owner)
        .await;
    let token = user_token(srv, "acme", &seed.email, scopes).await;
    (seed, token)
}

/// A server app of `org` holding `scopes`, added to it by the operator with `granted`.
async fn added_server_app(
    srv: &TestServer,
    org: &str,
    scopes: &[&str],
    granted: &[&str],
) -> (String, String) {
    let m = &srv.state.manager;
    let app = m
        .create_app(&Caller::operator(), org, server_app("robot", scopes))
        .await
        .unwrap();
    m.add_app_to_organization(
        &Caller::operator(),
        &app.app.client_id,
        org,
        granted.iter().map(|s| s.to_string()).collect(),
    )
    .await
    .unwrap();
    (app.app.client_id, app.client_secret.unwrap())
}

async fn the_issuers_own_urls_are_no_resource_server(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let developer = user_token(&srv, "acme", "dev@acme.example", &["grantor:resources"]).await;
    for identifier in [srv.url("/api/v1"), srv.issuer.clone(), srv.url("/oauth2")] {
        let (status, _, body) = call(
            &srv,
            Some(&developer),
            Method::POST,
            "/api/v1/orgs/acme/resource-servers",
            Some(json!({"identifier": identifier, "name": "Mine",
                        "scopes": [{"name": "mine:read", "description": ""}]})),
        )
        .await;
        assert_eq!(
            (status, body["errors"][0]["field"].as_str()),
            (422, Some("identifier")),
            "{identifier}: {body}"
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
    let acme_admin = user_token(&srv, "acme", &seed.email, &["grantor:apps"]).await;
    let (status, _, info) = srv
        .post_form(
            "/oauth2/introspect",
            Some((&spy.app.client_id, spy.client_secret.as_deref().unwrap())),
            &[("token", &acme_admin)],
        )
        .await;
    assert_eq!((status, &info), (200, &json!({"active": false})));
    // A token with the legacy scope carries neither it nor the management audience, and the
    // API refuses a token without a grantor:* scope whatever its audience.
    let (id, secret) =
        added_server_app(&srv, &beta.org.id, &["legacy:read"], &["legacy:read"]).await;
    let token = app_token(&srv, &id, &secret, &[]).await;
    assert_eq!(token["scope"], "", "{token}");
    let (status, _, body) = call(
        &srv,
        token["access_token"].as_str(),
        Method::GET,
        "/api/v1/orgs",
        None,
    )
    .await;
    assert!(status == 401 || status == 403, "{status} {body}");
    let resource_only = user_token(&srv, "acme", &seed.email, &["trades:read"]).await;
    let (status, _, body) = call(
        &srv,
        Some(&resource_only),
        Method::GET,
        "/api/v1/orgs",
        None,
    )
    .await;
    assert!(status == 401 || status == 403, "{status} {body}");
}

async fn api_tokens_are_managed_with_their_scope_in_their_organization(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let beta = srv.seed("beta").await;
    srv.member(&beta.org.id, &seed.email, Role::Member).await;
    let in_beta = user_token(&srv, "beta", &seed.email, &["grantor:api-tokens"]).await;
    let apps_only = user_token(&srv, "acme", &seed.email, &["grantor:apps"]).await;
    let in_acme = user_token(&srv, "acme", &seed.email, &["grantor:api-tokens"]).await;

    let (status, _, _) = call(
        &srv,
        Some(&apps_only),
        Method::GET,
        "/api/v1/me/api-tokens",
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, listed) = call(
        &srv,
        Some(&in_acme),
        Method::GET,
        "/api/v1/me/api-tokens",
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|t| t["org_id"] == seed.seed.org.id.as_str()),
        "only acme's: {listed}"
    );
    let (_, _, theirs) = call(
        &srv,
        Some(&in_beta),
        Method::GET,
        "/api/v1/me/api-tokens",
        None,
    )
    .await;
    let beta_token = theirs["items"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/me/api-tokens/{beta_token}");
    let (status, _, _) = call(&srv, Some(&apps_only), Method::DELETE, &path, None).await;
    assert_eq!(status, 403);
    let (status, _, _) = call(&srv, Some(&in_acme), Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "beta's token is not reachable from acme");
    let (status, _, _) = call(&srv, Some(&in_beta), Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(status, 200, "the beta token still works");
}

async fn an_api_token_is_minted_within_the_calling_tokens_scopes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "dev@acme.example", Role::Developer)
        .await;
    let narrow = user_token(&srv, "acme", "dev@acme.example", &["grantor:api-tokens"]).await;
    for scopes in [
        json!(["grantor:apps"]),
        json!(["grantor:resources"]),
        json!(["trades:read"]),
    ] {
        let (status, _, body) = call(
            &srv,
            Some(&narrow),
            Method::POST,
            "/api/v1/me/api-tokens",
            Some(json!({"name": "wider", "scopes": scopes, "expires_in": 31536000})),
        )
        .await;
        assert_eq!(status, 403, "{scopes}: {body}");
    }
    let (status, _, body) = call(
        &srv,
        Some(&narrow),
        Method::POST,
        "/api/v1/me/api-tokens",
        Some(json!({"name": "same", "scopes": ["grantor:api-tokens"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn an_admin_client_cannot_take_hold_of_apps_above_its_scopes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let acme_id = acme.org.id.as_str();
    let (apps_id, apps_secret) =
        added_server_app(&srv, acme_id, &["grantor:apps"], &["grantor:apps"]).await;
    let (members_id, _) = added_server_app(
        &srv,
        acme_id,
        &["grantor:members", "grantor:audit"],
        &["grantor:members", "grantor:audit"],
    )
    .await;
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
    let admin = admin["access_token"].as_str().unwrap();
    for target in [&members_id, &shared.app.client_id] {
        let (status, _, body) = call(
            &srv,
            Some(admin),
            Method::POST,
            &format!("/api/v1/orgs/acme/apps/{target}/secret"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert!(body.get("client_secret").is_none());
    }
    // Nor may it add an app to its organization with more than it holds.
    let (status, _, body) = call(
        &srv,
        Some(admin),
        Method::POST,
        "/api/v1/orgs/acme/added-apps",
        Some(json!({"client_id": acme.client_id(), "scopes": ["trades:write"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Its own secret, within its own scopes, it may regenerate.
    let (status, _, body) = call(
        &srv,
        Some(admin),
        Method::POST,
        &format!("/api/v1/orgs/acme/apps/{apps_id}/secret"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn the_only_owner_stays_an_owner_even_under_concurrent_changes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "owner@acme.example", Role::Owner).await;
    let owner = user_token(&srv, "acme", "owner@acme.example", &["grantor:members"]).await;
    // Re-adding the only owner with another role is the same demotion as PATCH.
    srv.member(&org, &seed.email, Role::Member).await;
    let (status, _, body) = call(
        &srv,
        Some(&owner),
        Method::POST,
        "/api/v1/orgs/acme/members",
        Some(json!({"user": "owner@acme.example", "role": "member"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Two owners demoting each other at once: one of them stays an owner, every time.
    let m = &srv.state.manager;
    let op = Caller::operator();
    for round in 0..5 {
        srv.member(&org, &seed.email, Role::Owner).await;
        let (a, b) = tokio::join!(
            m.set_member_role(&op, &org, "owner@acme.example", "member"),
            m.set_member_role(&op, &org, &seed.email, "member"),
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
    let developer = user_token(&srv, "acme", "dev@acme.example", &["grantor:apps"]).await;
    let app = json!({"type": "server", "name": "nightly", "scopes": ["trades:read"]});
    let apps = "/api/v1/orgs/acme/apps";
    let (status, replayed, first) = post_once(&srv, &developer, apps, "k1", &app).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    // The same user through a token without grantor:apps: refused, and no secret.
    let narrow = user_token(&srv, "acme", "dev@acme.example", &["grantor:api-tokens"]).await;
    let (status, replayed, body) = post_once(&srv, &narrow, apps, "k1", &app).await;
    assert_eq!((status, replayed), (403, false), "{body}");
    assert!(body.get("client_secret").is_none());
    // With the right token, the first answer comes back.
    let (status, replayed, again) = post_once(&srv, &developer, apps, "k1", &app).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again["client_secret"], first["client_secret"]);
    // Not once the user has left the organization.
    srv.state
        .manager
        .remove_member(&Caller::operator(), &org, "dev@acme.example")
        .await
        .unwrap();
    let (status, _, body) = post_once(&srv, &developer, apps, "k1", &app).await;
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
    let (id, secret) =
        added_server_app(&srv, &acme.org.id, &["orders:read"], &["orders:read"]).await;
    let token = app_token(&srv, &id, &secret, &[]).await;
    assert_eq!(token["scope"], "orders:read");
    let claims = crate::sign_in::decode_payload(token["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://orders.acme.example", "{claims}");
    let refused = srv
        .post_form(
            "/oauth2/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://orders.beta.example"),
            ],
        )
        .await;
    assert_eq!(
        (refused.0, refused.2["error"].as_str()),
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
    let claims = crate::sign_in::decode_payload(token["access_token"].as_str().unwrap());
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
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "client_credentials"),
                ("organization", "acme"),
            ],
        )
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
    let claims = crate::sign_in::decode_payload(token["access_token"].as_str().unwrap());
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
    let apps = "/api/v1/orgs/acme/apps";
    for (name, field) in [
        ("two\nlines", "name"),
        ("nul\u{0}here", "name"),
        ("tab\there", "name"),
    ] {
        let (status, _, body) = call(
            &srv,
            Some(&owner),
            Method::POST,
            apps,
            Some(json!({"type": "server", "name": name, "scopes": ["trades:read"]})),
        )
        .await;
        assert_eq!(
            (status, body["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{name:?}: {body}"
        );
    }
    let (status, _, body) = call(
        &srv,
        Some(&owner),
        Method::POST,
        "/api/v1/orgs/acme/resource-servers",
        Some(
            json!({"identifier": "https://api.example.com/a b", "name": "A",
                    "scopes": [{"name": "a:b", "description": ""}]}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("identifier")),
        "{body}"
    );
    // NUL in a path or a query is refused before any lookup, never a 5xx.
    for path in [
        "/api/v1/orgs/ac%00me/apps",
        "/api/v1/orgs/acme/audit-events?actor=a%00b",
    ] {
        let (status, _, body) = call(&srv, Some(&owner), Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    // An app name that looks like more details stays one value.
    let (status, _, _) = call(
        &srv,
        Some(&owner),
        Method::POST,
        apps,
        Some(json!({"type": "server", "name": "x scopes=grantor:members", "scopes": ["trades:read"]})),
    )
    .await;
    assert_eq!(status, 201);
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
        json!({"type": "server", "name": "x scopes=grantor:members"})
    );
}

async fn unknown_and_foreign_organizations_look_the_same(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.seed("beta").await;
    let token = user_token(&srv, "acme", &seed.email, &["grantor:api-tokens"]).await;
    let mut answers = Vec::new();
    for org in ["beta", "no-such-org"] {
        let (status, _, body) = call(
            &srv,
            Some(&token),
            Method::POST,
            "/api/v1/me/api-tokens",
            Some(json!({"org": org, "name": "x", "scopes": ["grantor:api-tokens"]})),
        )
        .await;
        answers.push((
            status,
            body["detail"]
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
        .invite_member(&as_inviter, &org, "new@acme.example", "owner")
        .await
        .unwrap();
    m.set_member_role(&Caller::operator(), &org, "owner@acme.example", "member")
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
    let token = user_token(&srv, "acme", &seed.email, &["grantor:apps"]).await;
    let path = format!("/api/v1/orgs/acme/apps/{}", seed.seed.client_id());
    let (status, _, body) = call(
        &srv,
        Some(&token),
        Method::PATCH,
        &path,
        Some(json!({"access_token_ttl": 120})),
    )
    .await;
    assert_eq!(
        (status, body["access_token_ttl"].as_i64()),
        (200, Some(120)),
        "{body}"
    );
    let (status, _, body) = call(
        &srv,
        Some(&token),
        Method::PATCH,
        &path,
        Some(json!({"access_token_ttl": 0})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
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
    create_platform_admin(&srv).await;
    srv.member(&seed.seed.org.id, "root@ops.example", Role::Member)
        .await;
    let admin = user_token(
        &srv,
        "acme",
        "root@ops.example",
        &["grantor:orgs", "grantor:apps"],
    )
    .await;
    // A method the path does not serve is 405, Idempotency-Key or not.
    let resp = srv
        .http
        .delete(srv.url("/api/v1/orgs"))
        .bearer_auth(&admin)
        .header("idempotency-key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    // An empty limit is not a number.
    let (status, _, body) =
        call(&srv, Some(&admin), Method::GET, "/api/v1/orgs?limit=", None).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("limit")),
        "{body}"
    );
    // A key reused for another request: the body's status is the answer's.
    let (status, _, _) =
        post_once(&srv, &admin, "/api/v1/orgs", "k", &json!({"name": "one"})).await;
    assert_eq!(status, 201);
    let (status, _, body) =
        post_once(&srv, &admin, "/api/v1/orgs", "k", &json!({"name": "two"})).await;
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
    let (status, _, body) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/audit-events?action=app.create&limit=12",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    made.reverse();
    assert_eq!(listed, made, "newest first, in the order written");
}
