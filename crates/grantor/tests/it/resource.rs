//! `grantor-resource` against a real Grantor: the layer's answers, introspection mode, and
//! signing-key rotation seen from a resource server that never restarts.

use crate::both_backends;
use crate::support::eventually;
use crate::support::{Backend, Seed, TRADING, TestServer};
use axum::Router;
use axum::routing::{get, post};
use grantor_core::clock::ManualClock;
use grantor_core::keyring;
use grantor_core::model::ScopeDefinition;
use grantor_resource::{Caller, CallerKind, Config, RequireToken, Validator, require_scope};
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    the_layer_admits_valid_tokens_and_answers_rfc_6750_otherwise,
    introspection_mode_sees_a_revocation_at_once,
    introspection_answers_are_never_reused_past_the_tokens_expiry,
    tokens_signed_before_during_and_after_a_rotation_verify_without_restart,
);

/// A little API behind the layer, on port 0; returns its base URL.
async fn api(validator: Validator) -> String {
    async fn whoami(caller: Caller) -> String {
        format!(
            "{:?} {} {} {}",
            caller.kind,
            caller.subject,
            caller.org_id,
            caller.scopes.join(",")
        )
    }
    let app = Router::new()
        .route("/orders", get(whoami).layer(require_scope("trades:read")))
        .route(
            "/orders/new",
            post(whoami).layer(require_scope("trades:write")),
        )
        .layer(RequireToken::new(validator));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn token(srv: &TestServer, seed: &Seed, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            Some((seed.client_id(), seed.secret())),
            &form,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn status_and_challenge(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    post: bool,
) -> (u16, String, String) {
    let req = if post { http.post(url) } else { http.get(url) };
    let req = match bearer {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, resp.text().await.unwrap())
}

async fn the_layer_admits_valid_tokens_and_answers_rfc_6750_otherwise(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let base = api(Validator::new(Config::new(&srv.issuer, TRADING))).await;
    let http = reqwest::Client::new();
    let orders = format!("{base}/orders");

    let read = token(&srv, &seed, Some("trades:read")).await;
    let (status, _, body) = status_and_challenge(&http, &orders, Some(&read), false).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            "{:?} {} {} trades:read",
            CallerKind::App,
            seed.client_id(),
            seed.org.id
        )
    );

    let (status, challenge, _) =
        status_and_challenge(&http, &format!("{base}/orders/new"), Some(&read), true).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"trades:write\""),
        "{challenge}"
    );

    let (status, challenge, _) = status_and_challenge(&http, &orders, None, false).await;
    assert_eq!((status, challenge.as_str()), (401, "Bearer realm=\"api\""));
    let (status, challenge, _) =
        status_and_challenge(&http, &orders, Some("not.a.token"), false).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""));

    // A token for another resource server is refused here.
    srv.state
        .manager
        .create_resource_server(
            &grantor_core::model::Caller::operator(),
            "acme",
            "https://reports.example.com",
            "Reports",
            vec![ScopeDefinition {
                name: "reports:read".into(),
                description: String::new(),
            }],
        )
        .await
        .unwrap();
    let app = srv
        .state
        .manager
        .create_app(
            &grantor_core::model::Caller::operator(),
            "acme",
            crate::support::server_app("reports", &["reports:read"]),
        )
        .await
        .unwrap();
    srv.state
        .manager
        .add_app_to_organization(
            &grantor_core::model::Caller::operator(),
            &app.app.client_id,
            "acme",
            vec!["reports:read".into()],
        )
        .await
        .unwrap();
    let other = Seed {
        org: seed.org.clone(),
        app,
    };
    let foreign = token(&srv, &other, None).await;
    let (status, challenge, _) = status_and_challenge(&http, &orders, Some(&foreign), false).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("not meant for this resource server"),
        "{challenge}"
    );

    // An ID-token-shaped or tampered token is refused: flip the payload.
    let mut parts: Vec<String> = read.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let (status, _, _) = status_and_challenge(&http, &orders, Some(&parts.join(".")), false).await;
    assert_eq!(status, 401);
}

async fn introspection_mode_sees_a_revocation_at_once(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let config = Config::new(&srv.issuer, TRADING).with_introspection(
        seed.client_id(),
        seed.secret(),
        Duration::ZERO,
    );
    let base = api(Validator::new(config)).await;
    let http = reqwest::Client::new();
    let t = token(&srv, &seed, None).await;
    assert_eq!(
        status_and_challenge(&http, &format!("{base}/orders"), Some(&t), false)
            .await
            .0,
        200
    );
    let (status, _, _) = srv
        .post_form(
            "/oauth2/revoke",
            Some((seed.client_id(), seed.secret())),
            &[("token", &t)],
        )
        .await;
    assert_eq!(status, 200);
    let (status, challenge, _) =
        status_and_challenge(&http, &format!("{base}/orders"), Some(&t), false).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"));
}

async fn introspection_answers_are_never_reused_past_the_tokens_expiry(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let m = &srv.state.manager;
    let mut short = crate::support::server_app("short-lived", &["trades:read"]);
    short.access_token_ttl = Some(60);
    let short = m
        .create_app(
            &grantor_core::model::Caller::operator(),
            &seed.org.id,
            short,
        )
        .await
        .unwrap();
    m.add_app_to_organization(
        &grantor_core::model::Caller::operator(),
        &short.app.client_id,
        &seed.org.id,
        vec!["trades:read".into()],
    )
    .await
    .unwrap();
    let short_seed = Seed {
        org: seed.org.clone(),
        app: short,
    };
    let t = token(&srv, &short_seed, None).await;
    // Answers may be reused for an hour, but not past the token's own expiry.
    let config = Config::new(&srv.issuer, TRADING).with_introspection(
        seed.client_id(),
        seed.secret(),
        Duration::from_secs(3600),
    );
    let clock = Arc::new(ManualClock::new(grantor_core::Clock::now(
        &grantor_core::SystemClock,
    )));
    let base = api(Validator::with_clock(config, clock.clone())).await;
    let http = reqwest::Client::new();
    let orders = format!("{base}/orders");
    assert_eq!(
        status_and_challenge(&http, &orders, Some(&t), false)
            .await
            .0,
        200
    );
    clock.advance(120);
    let (status, challenge, _) = status_and_challenge(&http, &orders, Some(&t), false).await;
    assert_eq!(status, 401, "{challenge}");
    assert!(challenge.contains("expired"), "{challenge}");
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn jwks_kids(srv: &TestServer) -> Vec<String> {
    srv.get_json("/oauth2/jwks").await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
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
    let base = api(Validator::with_clock(config, clock.clone())).await;
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

    let before = token(&srv, &seed, None).await;
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
    let during = token(&srv, &seed, None).await;
    assert_eq!(
        kid(&during),
        old_kid,
        "a published next key does not sign before the overlap ends"
    );

    clock.advance(61);
    eventually("the new key signs", Duration::from_secs(2), || async {
        kid(&token(&srv, &seed, None).await) == new_kids[0]
    })
    .await;
    let after = token(&srv, &seed, None).await;
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
    tokio::time::sleep(Duration::from_millis(1100)).await;
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
    let first = kid(&token(&srv, &seed, None).await);
    let published = jwks_kids(&srv).await.len();
    clock.advance(1001);
    eventually(
        "the scheduled key is published",
        Duration::from_secs(2),
        || async { jwks_kids(&srv).await.len() > published },
    )
    .await;
    assert_eq!(
        kid(&token(&srv, &seed, None).await),
        first,
        "not signing before the overlap ends"
    );
    clock.advance(31);
    eventually(
        "the scheduled key signs",
        Duration::from_secs(2),
        || async { kid(&token(&srv, &seed, None).await) != first },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_not_before_allow_for_a_little_clock_skew() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let seed = srv.seed("acme").await;
    let now = grantor_core::Clock::now(&grantor_core::SystemClock);
    // The resource server's clock, moved by hand; tokens live 900 s; the leeway is 30 s.
    let clock = Arc::new(ManualClock::new(now));
    let base = api(Validator::with_clock(
        Config::new(&srv.issuer, TRADING),
        clock.clone(),
    ))
    .await;
    let http = reqwest::Client::new();
    let t = token(&srv, &seed, None).await;
    let status = |clock_now: i64| {
        clock.advance(clock_now - grantor_core::Clock::now(clock.as_ref()));
        let (http, url, t) = (http.clone(), format!("{base}/orders"), t.clone());
        async move { status_and_challenge(&http, &url, Some(&t), false).await }
    };
    assert_eq!(
        status(now - 20).await.0,
        200,
        "a resource server 20 s behind still accepts a fresh token"
    );
    let (code, challenge, _) = status(now - 120).await;
    assert_eq!(code, 401);
    assert!(challenge.contains("not valid yet"), "{challenge}");
    assert_eq!(
        status(now + 900 + 20).await.0,
        200,
        "within the leeway after expiry"
    );
    let (code, challenge, _) = status(now + 900 + 60).await;
    assert_eq!(code, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}
