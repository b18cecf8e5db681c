//! The audit log through the management API: owners read it filtered and paged, and events
//! past the retention period are deleted.

use crate::both_backends;
use crate::support::api::OWNER_SCOPES;
use crate::support::{Backend, TestServer, eventually};
use grantor_core::clock::ManualClock;
use grantor_core::model::Role;
use grantor_core::store::{AuditLog, AuditQuery, SessionRecord, SessionStore, UserStore};
use grantor_core::{Clock, SystemClock};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    owners_read_the_audit_log_filtered_and_paginated,
    audit_events_past_the_retention_period_are_deleted,
);

async fn owners_read_the_audit_log_filtered_and_paginated(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    srv.member(&acme, "dev@acme.example", Role::Developer).await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &OWNER_SCOPES)
        .await;
    let developer = srv
        .api_as("acme", "dev@acme.example", &["grantor:apps"])
        .await;

    let all = owner.audit_events("acme", "").await.expect(200);
    let events = all["items"].as_array().unwrap();
    let times: Vec<i64> = events.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(events.iter().all(|e| e["org_id"] == acme.as_str()));
    assert!(!all.to_string().contains("gr_sec_"), "no secret in the log");

    let created = owner.audit_events("acme", "action=app.create").await.body;
    let created = created["items"].as_array().unwrap().clone();
    assert_eq!(created.len(), 3, "the server, web and native apps");
    assert!(created.iter().all(|e| e["action"] == "app.create"));

    // Page by page, the same events as all at once.
    let seen: Vec<Value> = owner
        .all("/api/v1/orgs/acme/audit-events", 2)
        .await
        .into_iter()
        .map(|e| e["id"].clone())
        .collect();
    let ids: Vec<Value> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, ids);

    let reply = developer.audit_events("acme", "").await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // The refusal is on record, with who tried.
    let refused = owner.audit_events("acme", "action=audit.view").await.body;
    let refused = &refused["items"][0];
    assert_eq!(refused["outcome"], "refused", "{refused}");
    assert!(refused["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(refused["source"], "127.0.0.1", "from where: {refused}");
    assert!(
        created.iter().all(|e| e["source"].is_null()),
        "the CLI operator has no address"
    );
    assert_eq!(
        owner.audit_events("acme", "cursor=%25%25").await.status,
        422
    );
}

/// Moves the clock a minute on (a node purges at most once a minute of its clock) and waits
/// until the server has begun a purge at the new time: its first step deletes expired
/// sessions, so a session that expired just before is gone.
async fn purge_passes(srv: &TestServer, clock: &ManualClock, user_id: &str) {
    let expired = SessionRecord {
        id_hash: grantor_core::secret::new_id("purge-marker-").unwrap(),
        user_id: user_id.into(),
        auth_time: clock.now(),
        method: Default::default(),
        expires_at: clock.now(),
        handle: String::from("ses_purge"),
        user_agent: String::new(),
        address: String::new(),
        last_seen_at: 0,
    };
    srv.state.store.create_session(&expired).await.unwrap();
    clock.advance(60);
    let gone = || async {
        let left = srv.state.store.session(&expired.id_hash).await.unwrap();
        left.is_none()
    };
    eventually("a purge passes", Duration::from_secs(5), gone).await;
}

async fn audit_events_past_the_retention_period_are_deleted(backend: Backend) {
    const DAY: i64 = 86_400;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| c.audit_retention_days = 30).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
    let user = srv.state.store.user_by_email(&seed.email).await.unwrap();
    let user = user.unwrap().id;
    let start = clock.now();
    let times = async || -> Vec<i64> {
        let everything = AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        };
        let events = srv.state.store.audit_events(&acme, &everything).await;
        events.unwrap().iter().map(|e| e.at).collect()
    };
    let seeded = times().await.len();
    assert!(seeded > 0);

    // Twenty days on: one more event, and a purge (every node purges once a minute) that
    // keeps everything, all of it younger than thirty days. Purges run one after another,
    // so once a second one has begun the first is over, audit events included.
    clock.advance(20 * DAY);
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    purge_passes(&srv, &clock, &user).await;
    purge_passes(&srv, &clock, &user).await;
    assert_eq!(times().await.len(), seeded + 1);

    // Thirty-five days on: what was recorded at the start goes, the later event stays.
    clock.advance(15 * DAY);
    eventually(
        "events past the retention period are deleted",
        Duration::from_secs(5),
        || async { times().await.len() < seeded + 1 },
    )
    .await;
    let left = times().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0] >= start + 20 * DAY, "{left:?}");
}
