//! `grantor-resource` against a real Grantor: the layer's answers, its protected-resource
//! metadata, introspection mode, and signing-key rotation seen from a resource server that
//! never restarts.

use crate::both_backends;
use crate::support::resource_server::{listen, serve, serve_on, status_and_challenge};
use crate::support::{Backend, Seed, TRADING, TestServer, server_app};
use grantor_core::clock::ManualClock;
use grantor_core::model::ScopeDefinition;
use grantor_resource::{CallerKind, Config, Validator};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    the_layer_admits_valid_tokens_and_answers_rfc_6750_otherwise,
    a_client_finds_its_way_from_a_refusal_to_a_token_through_the_metadata,
    introspection_mode_sees_a_revocation_at_once,
    introspection_answers_are_never_reused_past_the_tokens_expiry,
);

async fn the_layer_admits_valid_tokens_and_answers_rfc_6750_otherwise(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let base = serve(Validator::new(Config::new(&srv.issuer, TRADING))).await;
    let http = reqwest::Client::new();
    let orders = format!("{base}/orders");

    let read = srv.token_for(&seed, &[("scope", "trades:read")]).await;
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
    assert_eq!(
        (status, challenge.as_str()),
        (
            401,
            "Bearer realm=\"api\", resource_metadata=\"https://trading.example.com/.well-known/oauth-protected-resource\""
        )
    );
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
        .added_app("acme", server_app("reports", &["reports:read"]))
        .await;
    let other = Seed {
        org: seed.org.clone(),
        app,
    };
    let foreign = srv.token_for(&other, &[]).await;
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

/// RFC 9728 end to end: the 401 names the metadata URL, the API serves the document there, the
/// document leads to Grantor's metadata, and the token got there is accepted.
async fn a_client_finds_its_way_from_a_refusal_to_a_token_through_the_metadata(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    // The API's identifier is its own address with a path, so the metadata URL formed from it
    // (the well-known segment before the path) can be followed.
    let (listener, base) = listen().await;
    let identifier = format!("{base}/trading");
    let operator = grantor_core::model::Caller::operator();
    let org = srv
        .state
        .manager
        .create_organization(&operator, "globex")
        .await
        .unwrap();
    let scopes = ["trades:read", "trades:write"];
    let definitions = scopes.map(|name| ScopeDefinition {
        name: name.into(),
        description: String::new(),
    });
    srv.state
        .manager
        .create_resource_server(
            &operator,
            &org.id,
            &identifier,
            "Trading",
            definitions.into(),
        )
        .await
        .unwrap();
    let bot = srv.added_app(&org.id, server_app("bot", &scopes)).await;
    let config = Config::new(&srv.issuer, &identifier).with_scopes(&scopes);
    serve_on(listener, Validator::new(config));
    let http = reqwest::Client::new();
    let orders = format!("{base}/orders");

    let (status, challenge, _) = status_and_challenge(&http, &orders, None, false).await;
    let url = format!("{base}/.well-known/oauth-protected-resource/trading");
    assert_eq!(
        (status, challenge),
        (
            401,
            format!("Bearer realm=\"api\", resource_metadata=\"{url}\"")
        )
    );
    let (status, challenge, _) =
        status_and_challenge(&http, &orders, Some("not.a.token"), false).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("error=\"invalid_token\"")
            && challenge.ends_with(&format!(", resource_metadata=\"{url}\"")),
        "{challenge}"
    );

    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the metadata needs no token");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let metadata: Value = resp.json().await.unwrap();
    assert_eq!(
        metadata,
        json!({
            "resource": identifier,
            "authorization_servers": [srv.issuer],
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
        })
    );

    let issuer = metadata["authorization_servers"][0].as_str().unwrap();
    let grantor: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grantor["issuer"], issuer);
    let answer: Value = http
        .post(grantor["token_endpoint"].as_str().unwrap())
        .basic_auth(&bot.app.client_id, bot.client_secret.as_deref())
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "trades:read"),
            ("resource", &identifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let (status, _, caller) = status_and_challenge(&http, &orders, Some(token), false).await;
    assert_eq!(status, 200, "{caller}");
    // A route's refusal for want of a scope names the metadata too, for step-up.
    let (status, challenge, _) =
        status_and_challenge(&http, &format!("{orders}/new"), Some(token), true).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("scope=\"trades:write\"")
            && challenge.ends_with(&format!(", resource_metadata=\"{url}\"")),
        "{challenge}"
    );
}

async fn introspection_mode_sees_a_revocation_at_once(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let config = Config::new(&srv.issuer, TRADING).with_introspection(
        seed.client_id(),
        seed.secret(),
        Duration::ZERO,
    );
    let base = serve(Validator::new(config)).await;
    let http = reqwest::Client::new();
    let t = srv.token_for(&seed, &[]).await;
    assert_eq!(
        status_and_challenge(&http, &format!("{base}/orders"), Some(&t), false)
            .await
            .0,
        200
    );
    assert_eq!(srv.oauth().revoke(seed.basic(), &t).await, 200);
    let (status, challenge, _) =
        status_and_challenge(&http, &format!("{base}/orders"), Some(&t), false).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"));
}

async fn introspection_answers_are_never_reused_past_the_tokens_expiry(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let short = server_app("short-lived", &["trades:read"]).access_token_ttl(Some(60));
    let short = srv.added_app(&seed.org.id, short).await;
    let short_seed = Seed {
        org: seed.org.clone(),
        app: short,
    };
    let t = srv.token_for(&short_seed, &[]).await;
    // Answers may be reused for an hour, but not past the token's own expiry.
    let config = Config::new(&srv.issuer, TRADING).with_introspection(
        seed.client_id(),
        seed.secret(),
        Duration::from_secs(3600),
    );
    let clock = Arc::new(ManualClock::new(grantor_core::Clock::now(
        &grantor_core::SystemClock,
    )));
    let base = serve(Validator::with_clock(config, clock.clone())).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_not_before_allow_for_a_little_clock_skew() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let seed = srv.seed("acme").await;
    let now = grantor_core::Clock::now(&grantor_core::SystemClock);
    // The resource server's clock, moved by hand; tokens live 900 s; the leeway is 30 s.
    let clock = Arc::new(ManualClock::new(now));
    let base = serve(Validator::with_clock(
        Config::new(&srv.issuer, TRADING),
        clock.clone(),
    ))
    .await;
    let http = reqwest::Client::new();
    let t = srv.token_for(&seed, &[]).await;
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
