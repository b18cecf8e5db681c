//! Signing-key rotation: the next key is published before it signs, tokens signed before,
//! during and after a rotation verify at a resource server without a restart, scheduled
//! rotation runs by itself, and nodes rotating at once make one next key.

use crate::both_backends;
use crate::support::oauth::{jwks_kids, kid};
use crate::support::resource_server::{serve, status_and_challenge};
use crate::support::{Backend, TRADING, TestServer, config, eventually};
use grantor_core::clock::ManualClock;
use grantor_core::keyring;
use grantor_core::store::{KeyState, KeyStore};
use grantor_core::{Clock, SystemClock};
use grantor_resource::{Config, Validator};
use grantor_server::Application;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    nodes_rotating_at_once_create_one_next_key,
    tokens_signed_before_during_and_after_a_rotation_verify_without_restart,
);

async fn nodes_rotating_at_once_create_one_next_key(backend: Backend) {
    const INTERVAL: i64 = 500;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| {
        c.key_rotation_interval = INTERVAL;
    })
    .await;
    let policy = srv.state.rotation;
    // Eight nodes reach the same scheduled rotation at once.
    clock.advance(INTERVAL + 1);
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, kek, clock) = (
            srv.state.store.clone(),
            srv.state.kek.clone(),
            clock.clone(),
        );
        runs.spawn(async move { keyring::advance(&store, &kek, clock.as_ref(), &policy).await });
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap().unwrap();
    }
    let waiting = next_keys(&srv).await;
    assert_eq!(algs(&waiting), ["ES256", "RS256"]);

    // And as real nodes: a second server on the same database, both on the schedule. Once
    // the waiting keys sign, the schedule comes round again on both at once.
    let mut second = config(&srv.db.url);
    second.key_rotation_interval = INTERVAL;
    let node = Application::build_with_clock(second, clock.clone())
        .await
        .unwrap();
    let issuer = node.issuer().to_string();
    tokio::spawn(node.run(std::future::pending()));
    clock.advance(policy.overlap.max(INTERVAL) + 1);
    // RSA key generation can take seconds on a busy machine, so wait for both new keys.
    eventually("keys rotate", Duration::from_secs(30), || async {
        let next = next_keys(&srv).await;
        next.len() >= 2 && !next.iter().any(|k| waiting.contains(k))
    })
    .await;
    let next = next_keys(&srv).await;
    // The second node has had its turn to (not) add a duplicate once it publishes the new
    // keys: in one poll it applies the transitions due, then reloads the keys it publishes.
    let second_jwks = || async {
        let jwks: Value = srv
            .http
            .get(format!("{issuer}/oauth2/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks
    };
    eventually(
        "the second node publishes the new keys",
        Duration::from_secs(30),
        || async {
            let published = second_jwks().await["keys"].to_string();
            next.iter().all(|(_, kid)| published.contains(kid.as_str()))
        },
    )
    .await;
    let next = next_keys(&srv).await;
    assert_eq!(
        algs(&next),
        ["ES256", "RS256"],
        "one next key per algorithm"
    );
    let jwks = second_jwks().await;
    let published = jwks["keys"].as_array().unwrap().len();
    // Two retired, two active, two next.
    assert_eq!(published, 6, "{jwks}");
}

fn algs(keys: &[(String, String)]) -> Vec<&str> {
    keys.iter().map(|(alg, _)| alg.as_str()).collect()
}

/// The signing keys waiting to sign: `(alg, kid)`, sorted.
async fn next_keys(srv: &TestServer) -> Vec<(String, String)> {
    let mut next: Vec<_> = srv
        .state
        .store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.state == KeyState::Next)
        .map(|k| (k.alg.as_str().to_string(), k.kid))
        .collect();
    next.sort();
    next
}

async fn tokens_signed_before_during_and_after_a_rotation_verify_without_restart(backend: Backend) {
    let clock = Arc::new(ManualClock::new(grantor_core::Clock::now(
        &grantor_core::SystemClock,
    )));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| c.key_retire_after = 120).await;
    let seed = srv.seed("acme").await;
    // Keys refetched at every unknown kid and whenever older than one second.
    let config =
        Config::new(&srv.issuer, TRADING).with_jwks_refresh(Duration::from_secs(1), Duration::ZERO);
    let base = serve(Validator::with_clock(config, clock.clone())).await;
    let http = reqwest::Client::new();
    let orders = format!("{base}/orders");
    let accepted = |t: String| {
        let (http, orders) = (http.clone(), orders.clone());
        async move {
            status_and_challenge(&http, &orders, Some(&t), false)
                .await
                .0
                == 200
        }
    };

    let before = srv.token_for(&seed, &[]).await;
    let old_kid = kid(&before);
    assert!(accepted(before.clone()).await);

    let new_kids = keyring::rotate(&srv.state.store, &srv.state.kek, clock.as_ref(), 60)
        .await
        .unwrap();
    eventually(
        "the next key is published",
        Duration::from_secs(2),
        || async { jwks_kids(&srv).await.contains(&new_kids[0]) },
    )
    .await;
    let during = srv.token_for(&seed, &[]).await;
    assert_eq!(
        kid(&during),
        old_kid,
        "a published next key does not sign before the overlap ends"
    );

    clock.advance(61);
    eventually("the new key signs", Duration::from_secs(2), || async {
        kid(&srv.token_for(&seed, &[]).await) == new_kids[0]
    })
    .await;
    let after = srv.token_for(&seed, &[]).await;
    for t in [&before, &during, &after] {
        assert!(
            accepted(t.clone()).await,
            "tokens from before, during and after the rotation verify"
        );
    }
    assert!(
        jwks_kids(&srv).await.contains(&old_kid),
        "the retired key stays published"
    );

    clock.advance(121);
    eventually(
        "the retired key is removed",
        Duration::from_secs(2),
        || async { !jwks_kids(&srv).await.contains(&old_kid) },
    )
    .await;
    // The resource server refetches keys older than a second (of real time).
    eventually(
        "the resource server drops the removed key",
        Duration::from_secs(5),
        || async { !accepted(before.clone()).await },
    )
    .await;
    let (status, challenge, _) = status_and_challenge(&http, &orders, Some(&before), false).await;
    assert_eq!(status, 401, "a token signed with a removed key is refused");
    assert!(challenge.contains("invalid_token"));
    assert!(accepted(after).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_publishes_a_key_then_signs_with_it() {
    let clock = Arc::new(ManualClock::new(grantor_core::Clock::now(
        &grantor_core::SystemClock,
    )));
    let srv = TestServer::spawn_with(Backend::Sqlite, clock.clone(), |c| {
        c.key_rotation_interval = 1000;
        c.key_rotation_overlap = 30;
    })
    .await;
    let seed = srv.seed("acme").await;
    let first = kid(&srv.token_for(&seed, &[]).await);
    let published = jwks_kids(&srv).await.len();
    clock.advance(1001);
    eventually(
        "the scheduled key is published",
        Duration::from_secs(2),
        || async { jwks_kids(&srv).await.len() > published },
    )
    .await;
    assert_eq!(
        kid(&srv.token_for(&seed, &[]).await),
        first,
        "not signing before the overlap ends"
    );
    clock.advance(31);
    eventually(
        "the scheduled key signs",
        Duration::from_secs(2),
        || async { kid(&srv.token_for(&seed, &[]).await) != first },
    )
    .await;
}
