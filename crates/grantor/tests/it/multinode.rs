//! Several `grantor serve` processes on one database behave as one server.

use crate::both_backends;
use crate::support::http_session::HttpSession;
use crate::support::oauth::{OAuth, authorize_url, code_in, redirect_params};
use crate::support::process::{self, Process, node};
use crate::support::{
    Backend, PASSWORD, WEB_REDIRECT, cli, db::TestDatabase, eventually, seed_server_app,
};
use std::time::{Duration, Instant};

both_backends!(
    a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second,
    a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second,
    every_step_of_a_sign_in_can_land_on_another_node,
    configuration_changes_reach_every_node_within_a_second,
    nodes_started_at_once_on_an_empty_database_migrate_once_and_share_keys,
);

async fn a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let nodes = [node(url), node(url)];
    let (id, secret) = seed_server_app(url).await;

    let http = reqwest::Client::new();
    let token_status = |base: String| {
        let (http, id, secret) = (&http, &id, &secret);
        async move {
            let oauth = OAuth::at(http, &base);
            oauth.client_credentials(id, secret, &[]).await.0
        }
    };
    // The add-to-org above reaches both nodes within a poll interval.
    for (_, base) in &nodes {
        eventually(
            &format!("node {base} sees the new app"),
            Duration::from_secs(1),
            || async { token_status(base.clone()).await == 200 },
        )
        .await;
    }
    assert!(
        cli(url, &["app", "regenerate-secret", "--app", &id], None)
            .await
            .0
    );
    let bases = [nodes[0].1.as_str(), nodes[1].1.as_str()];
    seen_everywhere("secret regenerated", &bases, |base| async {
        token_status(base).await == 401
    })
    .await;
}

async fn a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (id, secret) = seed_server_app(url).await;
    let basic = Some((id.as_str(), secret.as_str()));
    // Started after seeding, so both already know the app.
    let [(_a, a), (_b, b)] = [node(url), node(url)];
    let http = reqwest::Client::new();
    let (at_a, at_b) = (OAuth::at(&http, &a), OAuth::at(&http, &b));
    let token = &at_a.access_token(&id, &secret, &[]).await;
    assert!(at_b.active(basic, token).await);

    assert_eq!(at_a.revoke(basic, token).await, 200);
    // At once where it was revoked; within a poll or two everywhere else.
    assert!(!at_a.active(basic, token).await);
    eventually(
        &format!("node {b} reports the revoked token inactive"),
        Duration::from_secs(1),
        || async { !at_b.active(basic, token).await },
    )
    .await;
}

async fn every_step_of_a_sign_in_can_land_on_another_node(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (id, secret) = seed_server_app(url).await;
    let run = |args: Vec<&'static str>| async move { cli(url, &args, None).await };
    let (ok, _, err) = cli(
        url,
        &[
            "user",
            "create",
            "--email",
            "ann@acme.example",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        run(vec![
            "member",
            "add",
            "--org",
            "acme",
            "--user",
            "ann@acme.example",
            "--role",
            "member"
        ])
        .await
        .0
    );
    let (ok, web, err) = cli(
        url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "web",
            "--name",
            "portal",
            "--redirect-uri",
            WEB_REDIRECT,
            "--scope",
            "openid",
            "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    let web_id = web["client_id"].as_str().unwrap();
    let web_basic = Some((web_id, web["client_secret"].as_str().unwrap()));
    let basic = Some((id.as_str(), secret.as_str()));
    let [(_a, a), (_b, b), (_c, c)] = [node(url), node(url), node(url)];
    let http = reqwest::Client::new();
    let [at_a, at_b, at_c] = [&a, &b, &c].map(|base| OAuth::at(&http, base));

    // Authorize on A, sign in on B, approve on C.
    let mut session = HttpSession::new(&a);
    let page = session
        .get(&authorize_url(
            web_id,
            WEB_REDIRECT,
            "scope=openid+api%3Aread&state=s",
        ))
        .await;
    let login = session.follow(page).await;
    assert!(login.body.contains("action=\"/login\""), "{}", login.body);
    session.switch_to(&b);
    let consent = session.sign_in(&login, "ann@acme.example", PASSWORD).await;
    assert!(
        consent.body.contains("action=\"/consent\""),
        "{}",
        consent.body
    );
    session.switch_to(&c);
    let back = session
        .decide(&consent, true, &["openid", "api:read"], None)
        .await;
    let code = code_in(back.location.as_deref().unwrap());

    // Exchange the code on A, refresh on B.
    let (status, tokens) = at_a.exchange_code(web_basic, &code, WEB_REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = at_b.refresh(web_basic, first_refresh, None).await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();

    // Introspect and revoke on C (the resource server's app introspects).
    assert!(at_c.active(basic, access).await);
    assert_eq!(at_c.revoke(web_basic, access).await, 200);
    assert!(!at_c.active(basic, access).await);

    // Refresh again on C; then the user revokes the approval at /account on B, and the grant's
    // access token fails introspection on every node.
    let second_refresh = refreshed["refresh_token"].as_str().unwrap();
    let (status, again) = at_c.refresh(web_basic, second_refresh, None).await;
    assert_eq!(status, 200, "{again}");
    let live = again["access_token"].as_str().unwrap();
    assert!(at_a.active(basic, live).await);
    session.switch_to(&b);
    let account = session.get("/account").await;
    let (csrf, org_id) = (
        account.field("csrf").unwrap(),
        account.field("org_id").unwrap(),
    );
    let revoked = session
        .post(
            "/account/approvals/revoke",
            &[("csrf", &csrf), ("client_id", web_id), ("org_id", &org_id)],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    seen_everywhere(
        "consent revoked at /account",
        &[a.as_str(), b.as_str(), c.as_str()],
        |base| async {
            let base = base;
            !OAuth::at(&http, &base).active(basic, live).await
        },
    )
    .await;

    // Sign out on A: the session made on B ends.
    session.switch_to(&a);
    let signed_out = session.get("/logout").await;
    let csrf = signed_out.field("csrf").expect("the sign-out form");
    let done = session.post("/logout", &[("csrf", &csrf)]).await;
    assert!(done.status < 400, "{}", done.body);
    session.switch_to(&b);
    let again = session
        .get(&authorize_url(
            web_id,
            WEB_REDIRECT,
            "scope=openid&state=t&prompt=none",
        ))
        .await;
    let params = redirect_params(again.location.as_deref().unwrap());
    assert_eq!(params["error"], "login_required", "{params:?}");
}

/// Waits until `check` holds on every node; fails past a second; returns how long the
/// slowest node took, and prints it (`cargo test -- --nocapture` shows the figures).
async fn seen_everywhere<F: std::future::Future<Output = bool>>(
    change: &str,
    nodes: &[&str],
    check: impl Fn(String) -> F,
) -> Duration {
    let changed = Instant::now();
    for base in nodes {
        while !check(base.to_string()).await {
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "{change}: node {base} has not seen it after a second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let took = changed.elapsed();
    println!("{change}: seen by every node after {} ms", took.as_millis());
    took
}

async fn configuration_changes_reach_every_node_within_a_second(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (id, secret) = seed_server_app(url).await;
    let cli_ok = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = cli(url, &args, None).await;
        assert!(ok, "{args:?}: {err}");
        out
    };
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    cli_ok(words("resource create --org acme --identifier https://other.example.com --name Other --scope other:read")).await;
    let app = cli_ok(words(
        "app create --org acme --type server --name mover --scope api:read --scope other:read",
    ))
    .await;
    let (mover, mover_secret) = (
        app["client_id"].as_str().unwrap().to_string(),
        app["client_secret"].as_str().unwrap().to_string(),
    );
    cli_ok(words(&format!(
        "app add-to-org --app {mover} --org acme --scope api:read --scope other:read"
    )))
    .await;
    let (ok, _, err) = cli(
        url,
        &[
            "user",
            "create",
            "--email",
            "ann@acme.example",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert!(ok, "{err}");
    cli_ok(words(
        "member add --org acme --user ann@acme.example --role member",
    ))
    .await;
    let api_token = |name: &'static str| {
        cli_ok(words(&format!(
            "api-token create --org acme --user ann@acme.example --name {name} --scope api:read"
        )))
    };
    let revoked_later = api_token("revoked").await;
    let orphaned_later = api_token("orphaned").await;

    let [(_a, a), (_b, b)] = [node(url), node(url)];
    let nodes = [a.as_str(), b.as_str()];
    let http = reqwest::Client::new();
    let basic = Some((id.as_str(), secret.as_str()));
    let client_credentials = |base: String| {
        let (http, mover, mover_secret) = (&http, &mover, &mover_secret);
        async move {
            let oauth = OAuth::at(http, &base);
            oauth.client_credentials(mover, mover_secret, &[]).await
        }
    };
    let exchange = |base: String, token: &serde_json::Value| {
        let (http, token) = (&http, token["token"].as_str().unwrap().to_string());
        async move {
            let oauth = OAuth::at(http, &base);
            oauth.exchange_api_token(&token, None).await
        }
    };
    let (status, exchanged) = exchange(a.clone(), &revoked_later).await;
    assert_eq!(status, 200, "{exchanged}");
    let exchanged = exchanged["access_token"].as_str().unwrap().to_string();
    for base in nodes {
        let (status, token) = client_credentials(base.to_string()).await;
        assert_eq!(
            (status, token["scope"].as_str()),
            (200, Some("api:read other:read"))
        );
        assert!(OAuth::at(&http, base).active(basic, &exchanged).await);
    }

    // The organization narrows what it granted the app.
    cli_ok(words(&format!(
        "app add-to-org --app {mover} --org acme --scope api:read"
    )))
    .await;
    seen_everywhere("scopes narrowed", &nodes, |base| async {
        client_credentials(base).await.1["scope"] == "api:read"
    })
    .await;

    // An API token is revoked: what it issued stops passing introspection.
    cli_ok(vec![
        "api-token".into(),
        "revoke".into(),
        revoked_later["id"].as_str().unwrap().into(),
    ])
    .await;
    seen_everywhere("API token revoked", &nodes, |base| async {
        let base = base;
        !OAuth::at(&http, &base).active(basic, &exchanged).await
    })
    .await;

    // The member leaves: their API tokens are refused.
    cli_ok(words("member remove --org acme --user ann@acme.example")).await;
    seen_everywhere("member removed", &nodes, |base| async {
        exchange(base, &orphaned_later).await.0 == 400
    })
    .await;

    // A key rotation starts: every node publishes the new keys.
    cli_ok(words("keys rotate")).await;
    let keys = cli_ok(words("keys list")).await;
    let next: Vec<String> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "next")
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(next.len(), 2, "{keys}");
    seen_everywhere("key rotation", &nodes, |base| {
        let (http, next) = (&http, &next);
        async move {
            let jwks: serde_json::Value = http
                .get(format!("{base}/oauth2/jwks"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let published = jwks["keys"].to_string();
            next.iter().all(|kid| published.contains(kid.as_str()))
        }
    })
    .await;

    // The app is deleted.
    cli_ok(words(&format!("app delete {mover}"))).await;
    seen_everywhere("app deleted", &nodes, |base| async {
        client_credentials(base).await.0 == 401
    })
    .await;
}

async fn nodes_started_at_once_on_an_empty_database_migrate_once_and_share_keys(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    // Started together (each waits for its "listening" line only afterwards).
    let starting: Vec<Process> = (0..3)
        .map(|_| Process::spawn(process::serve(url)))
        .collect();
    let bases: Vec<String> = starting
        .iter()
        .map(|p| p.word_after("listening on "))
        .collect();

    let (ok, keys, err) = cli(url, &["keys", "list"], None).await;
    assert!(ok, "{err}");
    let active: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "active")
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(active.len(), 2, "one active key per algorithm: {keys}");
    let (id, secret) = seed_server_app(url).await;
    let http = reqwest::Client::new();
    // A token from any node verifies on every other: they sign with the same keys. Within
    // the one second every change takes to reach every node; one run in several under load
    // saw a node refuse another's token for a moment right after a start at once.
    let basic = Some((id.as_str(), secret.as_str()));
    for issuing in &bases {
        let token = &OAuth::at(&http, issuing)
            .access_token(&id, &secret, &[])
            .await;
        for checking in &bases {
            let what = format!("{checking} accepts a token of {issuing}");
            let node = OAuth::at(&http, checking);
            eventually(&what, Duration::from_secs(2), || node.active(basic, token)).await;
        }
    }
}
