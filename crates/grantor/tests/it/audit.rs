//! The audit log through the management API: owners read it filtered and paged, and events
//! past the retention period are deleted.

use crate::api::*;
use crate::both_backends;
use crate::support::{Backend, TestServer};
use grantor_core::clock::ManualClock;
use grantor_core::model::Role;
use grantor_core::store::{AuditLog, AuditQuery};
use grantor_core::{Clock, SystemClock};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;

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
    let owner = user_token(&srv, "acme", "owner@acme.example", &OWNER_SCOPES).await;
    let developer = user_token(&srv, "acme", "dev@acme.example", &["grantor:apps"]).await;

    let (status, _, all) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/audit-events",
        None,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    let events = all["items"].as_array().unwrap();
    let times: Vec<i64> = events.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(events.iter().all(|e| e["org_id"] == acme.as_str()));
    assert!(!all.to_string().contains("gr_sec_"), "no secret in the log");

    let (_, _, created) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/audit-events?action=app.create",
        None,
    )
    .await;
    let created = created["items"].as_array().unwrap().clone();
    assert_eq!(created.len(), 3, "the server, web and native apps");
    assert!(created.iter().all(|e| e["action"] == "app.create"));

    // Page by page, the same events as all at once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/orgs/acme/audit-events?limit=2".to_string();
    loop {
        let (status, _, page) = call(&srv, Some(&owner), Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/orgs/acme/audit-events?limit=2&cursor={c}"),
            None => break,
        }
    }
    let ids: Vec<Value> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, ids);

    let (status, _, body) = call(
        &srv,
        Some(&developer),
        Method::GET,
        "/api/v1/orgs/acme/audit-events",
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The refusal is on record, with who tried.
    let (_, _, refused) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/audit-events?action=audit.view",
        None,
    )
    .await;
    let refused = &refused["items"][0];
    assert_eq!(refused["outcome"], "refused", "{refused}");
    assert!(refused["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(refused["source"], "127.0.0.1", "from where: {refused}");
    assert!(
        created.iter().all(|e| e["source"].is_null()),
        "the CLI operator has no address"
    );
    let (status, _, _) = call(
        &srv,
        Some(&owner),
        Method::GET,
        "/api/v1/orgs/acme/audit-events?cursor=%25%25",
        None,
    )
    .await;
    assert_eq!(status, 422);
}

async fn audit_events_past_the_retention_period_are_deleted(backend: Backend) {
    const DAY: i64 = 86_400;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| c.audit_retention_days = 30).await;
    let seed = srv.seed_sign_in("acme").await;
    let acme = seed.seed.org.id.clone();
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
    // keeps everything, all of it younger than thirty days.
    clock.advance(20 * DAY);
    srv.member(&acme, "owner@acme.example", Role::Owner).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(times().await.len(), seeded + 1);

    // Thirty-five days on: what was recorded at the start goes, the later event stays.
    clock.advance(15 * DAY);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let left = loop {
        let left = times().await;
        if left.len() < seeded + 1 || std::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0] >= start + 20 * DAY, "{left:?}");
}
