//! Many organizations on one installation: a change costs each node the entries it names,
//! never a reload of everyone's configuration, and accounts can be provisioned through the
//! API to populate one.

use crate::both_backends;
use crate::support::api::PLATFORM_ADMIN;
use crate::support::{PASSWORD, TestServer};
use grantor_core::manage::AppChanges;
use grantor_core::model::{Caller, Role};
use grantor_core::store::{Registry, ResourceServerStore};
use grantor_store::Store;
use serde_json::json;

both_backends!(
    a_change_evicts_only_what_it_names_on_another_node,
    a_node_that_cannot_tell_what_changed_drops_its_whole_cache,
    a_rename_reaches_every_cached_app_that_names_the_organization,
    platform_admins_provision_accounts_through_the_api,
    long_lists_are_read_a_page_at_a_time,
);

/// A second node's store on the test server's database, caught up with the change log.
async fn second_node(srv: &TestServer) -> Store {
    let node = Store::connect(&srv.db.url).await.unwrap();
    node.refresh_if_changed().await.unwrap();
    node
}

async fn a_change_evicts_only_what_it_names_on_another_node(backend: crate::support::Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let node = second_node(&srv).await;
    for id in [acme.client_id(), beta.client_id()] {
        assert!(node.client(id).await.unwrap().is_some());
    }
    assert_eq!(node.cached_clients(), (2, 0));

    // Acme changes its app's scopes on the first node.
    srv.state
        .manager
        .update_app(
            &Caller::operator(),
            None,
            acme.client_id(),
            AppChanges {
                scopes: Some(vec!["trades:read".into()]),
                ..AppChanges::default()
            },
        )
        .await
        .unwrap();

    // The second node drops acme's app on its next poll and keeps beta's.
    assert!(!node.refresh_if_changed().await.unwrap(), "no key changed");
    assert_eq!(node.cached_clients(), (1, 0));
    let reloaded = node.client(acme.client_id()).await.unwrap().unwrap();
    assert_eq!(reloaded.app.scopes.to_string(), "trades:read");
    assert_eq!(node.cached_clients(), (2, 0));

    // A resource server's new scope reaches the other node's index for that organization.
    let before = node.org_resources(&beta.org.id).await.unwrap();
    assert_eq!(before.servers_of("trades:read").len(), 1);
    let server = &srv
        .state
        .store
        .resource_servers(&beta.org.id)
        .await
        .unwrap()[0];
    srv.state
        .manager
        .update_resource_server(
            &Caller::operator(),
            &beta.org.id,
            &server.id,
            grantor_core::manage::ResourceServerChanges {
                name: None,
                scopes: Some(vec![grantor_core::model::ScopeDefinition {
                    name: "trades:audit".into(),
                    description: "Audit trades".into(),
                }]),
            },
        )
        .await
        .unwrap();
    node.refresh_if_changed().await.unwrap();
    let after = node.org_resources(&beta.org.id).await.unwrap();
    assert!(after.servers_of("trades:read").is_empty());
    assert_eq!(after.servers_of("trades:audit").len(), 1);
    assert_eq!(node.cached_clients(), (2, 0), "apps are not touched");
    node.close().await;
}

async fn a_node_that_cannot_tell_what_changed_drops_its_whole_cache(
    backend: crate::support::Backend,
) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let node = second_node(&srv).await;
    node.client(acme.client_id()).await.unwrap();
    assert_eq!(node.cached_clients(), (1, 0));

    // A version bumped with nothing in the log (an older release's node, or a log pruned
    // past this node's place): everything goes, signing keys are reloaded.
    let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(&srv.db.url).1)
        .await
        .unwrap();
    sqlx::query("UPDATE config_version SET version = version + 1 WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(node.refresh_if_changed().await.unwrap());
    assert_eq!(node.cached_clients(), (0, 0));
    // And it carries on from there, entry by entry.
    node.client(acme.client_id()).await.unwrap();
    srv.state
        .manager
        .regenerate_secret(&Caller::operator(), None, acme.client_id(), 0)
        .await
        .unwrap();
    assert!(!node.refresh_if_changed().await.unwrap());
    assert_eq!(node.cached_clients(), (0, 0));
    node.close().await;
}

async fn a_rename_reaches_every_cached_app_that_names_the_organization(
    backend: crate::support::Backend,
) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    // Beta adds acme's app: its cached entry carries beta's name too.
    srv.state
        .manager
        .add_app_to_organization(
            &Caller::operator(),
            acme.client_id(),
            &beta.org.id,
            vec!["trades:read".into()],
        )
        .await
        .unwrap();
    let store = &srv.state.store;
    let (acme_app, beta_app) = (acme.client_id(), beta.client_id());
    store.client(acme_app).await.unwrap();
    store.client(beta_app).await.unwrap();
    assert_eq!(store.cached_clients(), (2, 0));

    // Beta's membership changes name beta only as a membership: no app goes.
    srv.member(&beta.org.id, "ann@beta.example", Role::Member)
        .await;
    assert_eq!(store.cached_clients(), (2, 0));

    // Beta's own record changes (as a rename would): its entry in the log, written as the
    // store writes one, in one transaction.
    let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(&srv.db.url).1)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let version: i64 = sqlx::query_scalar(
        "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO config_changes (version, kind, id, at) VALUES ($1, 'organization', $2, 0)",
    )
    .bind(version)
    .bind(&beta.org.id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    pool.close().await;
    store.refresh_if_changed().await.unwrap();
    // Beta's app, and acme's app that beta added, both name beta: both go.
    assert_eq!(store.cached_clients(), (0, 0));
}

async fn platform_admins_provision_accounts_through_the_api(backend: crate::support::Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    srv.platform_admin().await;
    srv.member(&seed.org.id, PLATFORM_ADMIN, Role::Member).await;
    srv.member(&seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    let admin = srv.api_as("acme", PLATFORM_ADMIN, &["grantor:orgs"]).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &["grantor:members"])
        .await;

    // Without a password: provisioned, and a member at once.
    let new = json!({"email": "New@Acme.example", "name": "New Person"});
    let user = admin.create_user(new).await.expect(201);
    assert_eq!(user["email"], "new@acme.example");
    assert!(user.get("password_hash").is_none());
    let membership = json!({"user": "new@acme.example", "role": "member"});
    assert_eq!(owner.add_member("acme", membership).await.status, 201);
    // It cannot sign in with any password until it has one.
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    let page = session
        .sign_in(&page, "new@acme.example", "any-password-at-all")
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("The email or password is incorrect."));

    // With one: it must meet the rules; the same email twice is a conflict.
    let short = json!({"email": "short@acme.example", "password": "short"});
    let reply = admin.create_user(short).await;
    assert_eq!(
        (reply.status, &reply.body["errors"][0]["field"]),
        (422, &json!("password"))
    );
    let again = json!({"email": "new@acme.example", "password": PASSWORD});
    assert_eq!(admin.create_user(again).await.status, 409);

    // An owner is not a platform admin.
    let owner_orgs = srv
        .api_as("acme", "owner@acme.example", &["grantor:members"])
        .await;
    let someone = json!({"email": "x@acme.example"});
    assert_eq!(owner_orgs.create_user(someone).await.status, 403);
}

async fn long_lists_are_read_a_page_at_a_time(backend: crate::support::Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    srv.platform_admin().await;
    srv.member(&seed.org.id, PLATFORM_ADMIN, Role::Owner).await;
    for n in 0..6 {
        srv.member(&seed.org.id, &format!("m{n}@acme.example"), Role::Member)
            .await;
        srv.state
            .manager
            .create_organization(&Caller::operator(), &format!("org-{n}"))
            .await
            .unwrap();
    }
    let admin = ["grantor:orgs", "grantor:members"];
    let admin = srv.api_as("acme", PLATFORM_ADMIN, &admin).await;

    // Seven members, by email, in pages of three: each once, in order.
    let members = admin.all("/api/v1/orgs/acme/members", 3).await;
    let emails: Vec<&str> = members
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(emails.len(), 7);
    assert_eq!(emails, sorted);

    // A platform admin sees every organization, by name, a page at a time.
    let orgs = admin.all("/api/v1/orgs", 4).await;
    let names: Vec<&str> = orgs.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["acme", "org-0", "org-1", "org-2", "org-3", "org-4", "org-5"]
    );

    // A member's token confined to acme lists acme alone.
    let member = srv
        .api_as("acme", "m0@acme.example", &["grantor:apps"])
        .await;
    let mine = member.all("/api/v1/orgs", 2).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["name"], "acme");
}
