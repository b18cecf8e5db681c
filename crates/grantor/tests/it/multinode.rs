//! Several `grantor serve` processes on one database behave as one server.

use crate::both_backends;
use crate::support::browser::{Browser, redirect_params};
use crate::support::process::{self, Process};
use crate::support::{Backend, PASSWORD, WEB_REDIRECT, cli, db::TestDatabase};
use std::time::{Duration, Instant};

both_backends!(
    a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second,
    a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second,
    every_step_of_a_sign_in_can_land_on_another_node,
    configuration_changes_reach_every_node_within_a_second,
    nodes_started_at_once_on_an_empty_database_migrate_once_and_share_keys,
);

/// A `grantor serve` node on `database_url`, and its base URL. All nodes share one issuer,
/// as behind a load balancer.
pub(crate) fn node(database_url: &str) -> (Process, String) {
    let mut command = process::grantor();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--issuer",
        "https://grantor.example",
        "--database-url",
        database_url,
    ]);
    let node = Process::spawn(command);
    let base = node.word_after("listening on ");
    (node, base)
}

async fn token_status(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> u16 {
    http.post(format!("{base}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Seeds an organization, an API and a server app added to it with the CLI; returns the
/// app's ID and secret.
pub(crate) async fn seed_server_app(url: &str) -> (String, String) {
    assert!(cli(url, &["org", "create", "--name", "acme"], None).await.0);
    let (_, _, err) = cli(
        url,
        &[
            "resource",
            "create",
            "--org",
            "acme",
            "--identifier",
            "https://api.example.com",
            "--name",
            "API",
            "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    let (_, app, _) = cli(
        url,
        &[
            "app", "create", "--org", "acme", "--type", "server", "--name", "bot", "--scope",
            "api:read",
        ],
        None,
    )
    .await;
    let id = app["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("app create failed: {err}"))
        .to_string();
    let secret = app["client_secret"].as_str().unwrap().to_string();
    assert!(
        cli(
            url,
            &[
                "app",
                "add-to-org",
                "--app",
                &id,
                "--org",
                "acme",
                "--scope",
                "api:read"
            ],
            None
        )
        .await
        .0
    );

    (id, secret)
}

async fn a_secret_regenerated_with_the_cli_is_refused_by_every_node_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let nodes = [node(url), node(url)];
    let (id, secret) = seed_server_app(url).await;

    let http = reqwest::Client::new();
    // The add-to-org above reaches both nodes within a poll interval.
    for (_, base) in &nodes {
        let started = Instant::now();
        while token_status(&http, base, &id, &secret).await != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "node {base} never saw the new app"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        cli(url, &["app", "regenerate-secret", "--app", &id], None)
            .await
            .0
    );
    let bases = [nodes[0].1.as_str(), nodes[1].1.as_str()];
    seen_everywhere("secret regenerated", &bases, |base| {
        let (http, id, secret) = (&http, &id, &secret);
        async move { token_status(http, &base, id, secret).await == 401 }
    })
    .await;
}

async fn introspect(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
    token: &str,
) -> bool {
    let answer: serde_json::Value = http
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["active"] == true
}

async fn a_token_revoked_at_one_node_fails_introspection_at_another_within_a_second(
    backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (id, secret) = seed_server_app(url).await;
    // Started after seeding, so both already know the app.
    let [(_a, a), (_b, b)] = [node(url), node(url)];
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{a}/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    assert!(introspect(&http, &b, &id, &secret, token).await);

    let revoked = http
        .post(format!("{a}/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // At once where it was revoked; within a poll or two everywhere else.
    assert!(!introspect(&http, &a, &id, &secret, token).await);
    let changed = Instant::now();
    while introspect(&http, &b, &id, &secret, token).await {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "node {b} still reports the revoked token active"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let web_id = web["client_id"].as_str().unwrap().to_string();
    let web_secret = web["client_secret"].as_str().unwrap().to_string();
    let [(_a, a), (_b, b), (_c, c)] = [node(url), node(url), node(url)];
    let http = reqwest::Client::new();

    // Authorize on A, sign in on B, approve on C.
    let mut browser = Browser::new(&a);
    let redirect: String = url::form_urlencoded::byte_serialize(WEB_REDIRECT.as_bytes()).collect();
    let page = browser
        .get(&format!(
            "/oauth2/authorize?response_type=code&client_id={web_id}&redirect_uri={redirect}&scope=openid+api%3Aread&state=s"
        ))
        .await;
    let login = browser.follow(page).await;
    assert!(login.body.contains("action=\"/login\""), "{}", login.body);
    browser.switch_to(&b);
    let consent = browser.sign_in(&login, "ann@acme.example", PASSWORD).await;
    assert!(
        consent.body.contains("action=\"/consent\""),
        "{}",
        consent.body
    );
    browser.switch_to(&c);
    let back = browser
        .decide(&consent, true, &["openid", "api:read"], None)
        .await;
    let code = redirect_params(back.location.as_deref().unwrap())["code"].clone();

    // Exchange the code on A, refresh on B.
    let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let post = |base: &str, path: &str, form: Vec<(String, String)>| {
        let request = http
            .post(format!("{base}{path}"))
            .basic_auth(&web_id, Some(&web_secret))
            .form(&form);
        async move {
            let answer = request.send().await.unwrap();
            (
                answer.status().as_u16(),
                answer.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, tokens) = post(
        &a,
        "/oauth2/token",
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_REDIRECT),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, refreshed) = post(
        &b,
        "/oauth2/token",
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();

    // Introspect and revoke on C (the resource server's app introspects).
    assert!(introspect(&http, &c, &id, &secret, access).await);
    let (status, _) = post(&c, "/oauth2/revoke", form(&[("token", access)])).await;
    assert_eq!(status, 200);
    assert!(!introspect(&http, &c, &id, &secret, access).await);

    // Refresh again on C; then the user revokes the approval at /account on B, and the grant's
    // access token fails introspection on every node.
    let (status, again) = post(
        &c,
        "/oauth2/token",
        form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let live = again["access_token"].as_str().unwrap();
    assert!(introspect(&http, &a, &id, &secret, live).await);
    browser.switch_to(&b);
    let account = browser.get("/account").await;
    let (csrf, org_id) = (
        account.field("csrf").unwrap(),
        account.field("org_id").unwrap(),
    );
    let revoked = browser
        .post(
            "/account/approvals/revoke",
            &[("csrf", &csrf), ("client_id", &web_id), ("org_id", &org_id)],
        )
        .await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    seen_everywhere(
        "consent revoked at /account",
        &[a.as_str(), b.as_str(), c.as_str()],
        |base| async {
            let base = base;
            !introspect(&http, &base, &id, &secret, live).await
        },
    )
    .await;

    // Sign out on A: the session made on B ends.
    browser.switch_to(&a);
    let signed_out = browser.get("/logout").await;
    let csrf = signed_out.field("csrf").expect("the sign-out form");
    let done = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert!(done.status < 400, "{}", done.body);
    browser.switch_to(&b);
    let again = browser.get(&format!(
        "/oauth2/authorize?response_type=code&client_id={web_id}&redirect_uri={redirect}&scope=openid&state=t&prompt=none"
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
    let token_for =
        |base: String, form: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
            let mut request = http.post(format!("{base}/oauth2/token")).form(&form);
            if let Some((id, secret)) = basic {
                request = request.basic_auth(id, Some(secret));
            }
            async move {
                let answer = request.send().await.unwrap();
                (
                    answer.status().as_u16(),
                    answer.json::<serde_json::Value>().await.unwrap_or_default(),
                )
            }
        };
    let client_credentials = |base: String| {
        token_for(
            base,
            vec![("grant_type", "client_credentials".to_string())],
            Some((mover.clone(), mover_secret.clone())),
        )
    };
    let exchange = |base: String, token: &serde_json::Value| {
        token_for(
            base,
            vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange".to_string(),
                ),
                (
                    "subject_token",
                    token["token"].as_str().unwrap().to_string(),
                ),
                (
                    "subject_token_type",
                    "urn:grantor:params:oauth:token-type:api-token".to_string(),
                ),
            ],
            None,
        )
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
        assert!(introspect(&http, base, &id, &secret, &exchanged).await);
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
        !introspect(&http, &base, &id, &secret, &exchanged).await
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
        .map(|_| {
            let mut command = process::grantor();
            command.args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--issuer",
                "https://grantor.example",
                "--database-url",
                url,
            ]);
            Process::spawn(command)
        })
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
    // A token from any node verifies on every other at once: they sign with the same keys.
    for issuing in &bases {
        let answer: serde_json::Value = http
            .post(format!("{issuing}/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        for checking in &bases {
            assert!(
                introspect(&http, checking, &id, &secret, token).await,
                "{issuing} -> {checking}"
            );
        }
    }
}
