//! Regression tests for what an outside security review found: each one fails on the code
//! the review read and passes since the fix.

use crate::both_backends;
use crate::support::http_session::HttpSession;
use crate::support::oauth::{authorize_url, enc};
use crate::support::{Backend, PASSWORD, TRADING, TestServer, WEB_REDIRECT, cli, server_app};
use grantor_core::clock::ManualClock;
use grantor_core::model::{Actor, App, AppType, AuditEvent, Caller, Role};
use grantor_core::scope::ScopeSet;
use grantor_core::store::{AppStore, UserStore};
use grantor_core::{Clock, SystemClock};
use serde_json::Value;
use std::sync::Arc;

both_backends!(
    oversized_and_overfull_input_is_refused_before_any_work,
    every_html_page_carries_the_security_headers,
    management_scopes_never_reach_users_apps,
    introspection_answers_only_the_tokens_app_or_the_audience_owner,
    the_approval_form_rechecks_max_age,
);

/// POSTs a raw urlencoded body; returns status, headers and body text.
async fn post_raw(
    srv: &TestServer,
    path: &str,
    body: String,
    cookie: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = srv
        .http
        .post(srv.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

fn params(n: usize) -> String {
    (0..n)
        .map(|i| format!("p{i}=x"))
        .collect::<Vec<_>>()
        .join("&")
}

async fn oversized_and_overfull_input_is_refused_before_any_work(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let overfull = params(101);
    let oversized = format!("a={}", "x".repeat(65 * 1024));
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let (status, headers, body) = post_raw(&srv, path, overfull.clone(), None).await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("more than 100 parameters"),
            "{path}: {body}"
        );
        assert_eq!(headers["cache-control"], "no-store");
        let (status, _, body) = post_raw(&srv, path, oversized.clone(), None).await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (413, Some("invalid_request")),
            "{path}"
        );
    }
    let (status, _, body) = post_raw(
        &srv,
        "/oauth2/token",
        "grant_type=client_credentials&grant_type=password".into(),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("grant_type parameter appears more than once"));

    // The review's request: 20,000 parameters to the authorization endpoint, short enough
    // to fit the size limit, then longer.
    let short = vec!["a"; 20_000].join("&");
    let (status, _, body) = post_raw(&srv, "/oauth2/authorize", short, None).await;
    assert_eq!(status, 400);
    assert!(body.contains("more than 100 parameters"), "{body}");
    let (status, _, _) = post_raw(&srv, "/oauth2/authorize", params(20_000), None).await;
    assert_eq!(status, 413);
    let (status, _, body) = srv
        .get_raw(&format!("/oauth2/authorize?{overfull}"), None)
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("more than 100 parameters"));
    let long_query = format!("/oauth2/authorize?client_id={}", "a".repeat(17 * 1024));
    assert_eq!(srv.get_raw(&long_query, None).await.0, 413);

    // Pages answer with pages, signed in or not.
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    let cookie = session.cookie_header();
    for path in ["/login", "/consent", "/logout", "/account/approvals/revoke"] {
        let (status, headers, body) = post_raw(&srv, path, overfull.clone(), Some(&cookie)).await;
        assert_eq!(status, 400, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body.contains("more than 100 parameters"), "{path}");
        let (status, _, _) = post_raw(&srv, path, oversized.clone(), Some(&cookie)).await;
        assert_eq!(status, 413, "{path}");
    }
    for path in ["/login", "/logout"] {
        let (status, _, _) = srv.get_raw(&format!("{path}?{overfull}"), None).await;
        assert_eq!(status, 400, "{path}");
        let query = format!("{path}?return_to={}", "x".repeat(17 * 1024));
        assert_eq!(srv.get_raw(&query, None).await.0, 413, "{path}");
    }
}

fn assert_security_headers(what: &str, headers: &reqwest::header::HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(get("content-type").starts_with("text/html"), "{what}");
    assert!(
        get("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}: {headers:?}"
    );
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("cache-control"), "no-store", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
}

async fn every_html_page_carries_the_security_headers(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    let cookie = session.cookie_header();
    let consent_url = seed.web_authorize_url("scope=openid+trades%3Aread&state=s");
    let gets: Vec<(&str, String, Option<&str>, u16)> = vec![
        ("sign-in page", "/login".into(), None, 200),
        ("sign-out page", "/logout".into(), None, 200),
        (
            "sign-out with an unregistered address",
            format!(
                "/logout?post_logout_redirect_uri={}",
                enc("https://evil.example/")
            ),
            None,
            400,
        ),
        (
            "authorization error page",
            "/oauth2/authorize?client_id=x".into(),
            None,
            400,
        ),
        ("approval page", consent_url, Some(&cookie), 200),
        ("account page", "/account".into(), Some(&cookie), 200),
        (
            "refused input page",
            format!("/login?{}", params(101)),
            None,
            400,
        ),
    ];
    for (what, path, cookie, expected) in gets {
        let (status, headers, body) = srv.get_raw(&path, cookie).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert_security_headers(what, &headers);
    }
    let (status, headers, _) = post_raw(
        &srv,
        "/login",
        "csrf=forged&email=a%40b.example&password=x".into(),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_security_headers("expired sign-in form", &headers);
    let (status, headers, _) = post_raw(
        &srv,
        "/consent",
        "csrf=forged&request=client_id%3Dx".into(),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 403);
    assert_security_headers("expired approval form", &headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_credentials_are_refused_before_any_work() {
    let (srv, seed) = TestServer::spawn_behind_proxy(Backend::Sqlite).await;
    let app = srv.password_app(&seed).await;
    let long_email = format!("{}@acme.example", "a".repeat(250));
    let long_password = "p".repeat(1025);
    for _ in 0..5 {
        let (status, _, body) = srv
            .oauth()
            .password_from(&app, "198.51.100.9", &long_email, PASSWORD)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        let (status, _, body) = srv
            .oauth()
            .password_from(&app, "198.51.100.9", &seed.email, &long_password)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
    }
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    let answer = session
        .post(
            "/login",
            &[
                ("csrf", &page.field("csrf").unwrap()),
                ("email", &seed.email),
                ("password", &long_password),
            ],
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("longer than any account"));
    // None of them counted as a failure.
    let (status, _, _) = srv
        .oauth()
        .password_from(&app, "198.51.100.9", &seed.email, PASSWORD)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_shed_with_503_while_tokens_are_issued() {
    let (srv, seed) = TestServer::spawn_behind_proxy(Backend::Sqlite).await;
    let app = Arc::new(srv.password_app(&seed).await);
    let srv = Arc::new(srv);
    let flood: Vec<_> = (0..120)
        .map(|i| {
            let (srv, app) = (srv.clone(), app.clone());
            tokio::spawn(async move {
                let address = format!("198.51.{}.{}", i / 200, i % 200 + 1);
                let guess = format!("x{i}@x.example");
                srv.oauth()
                    .password_from(&app, &address, &guess, "guess")
                    .await
            })
        })
        .collect();
    // Token issuance goes on meanwhile: argon2 runs off the async workers.
    for _ in 0..20 {
        srv.token_for(&seed.seed, &[]).await;
    }
    let mut shed = 0;
    for attempt in flood {
        let (status, headers, body) = attempt.await.unwrap();
        if status == 503 {
            assert_eq!(body["error"], "temporarily_unavailable");
            assert!(headers.contains_key("retry-after"));
            shed += 1;
        } else {
            assert_eq!(body["error"], "invalid_grant", "{status} {body}");
        }
    }
    assert!(
        shed > 0,
        "past the checker's queue, sign-ins are shed, not queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_client_ids_are_refused_and_unknown_ones_are_bounded() {
    let srv = Arc::new(TestServer::spawn(Backend::Sqlite).await);
    let unknown_cached = |metrics: String| -> usize {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("grantor_client_cache_entries{kind=\"unknown\"} "))
            .expect("the metric is published")
            .parse()
            .unwrap()
    };
    let metrics = || async {
        srv.http
            .get(srv.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    for id in [
        "a".repeat(60_000),
        "app_XYZ".into(),
        "app_".into(),
        "../etc".into(),
    ] {
        let (status, body) = srv.oauth().client_credentials(&id, "secret", &[]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
    assert_eq!(
        unknown_cached(metrics().await),
        0,
        "malformed IDs are never looked up"
    );

    let limit = grantor_store::MAX_UNKNOWN_CLIENTS;
    let mut tasks = tokio::task::JoinSet::new();
    for batch in 0..16 {
        let srv = srv.clone();
        tasks.spawn(async move {
            for i in 0..(limit + 200) / 16 + 1 {
                let id = format!("app_{:032x}", batch * 1_000_000 + i);
                let (status, _) = srv.oauth().client_credentials(&id, "s", &[]).await;
                assert_eq!(status, 401);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let cached = unknown_cached(metrics().await);
    assert!(
        cached > 0 && cached <= limit,
        "{cached} unknown IDs remembered (at most {limit})"
    );
}

/// A web app holding a management scope, as could be made before the rule existed (straight
/// into storage, as a migrated database would hold it).
async fn legacy_app_with_management_scope(srv: &TestServer, org_id: &str) -> App {
    let app = App {
        client_id: grantor_core::secret::new_id("app_").unwrap(),
        org_id: org_id.into(),
        name: "Old admin tool".into(),
        app_type: AppType::Web,
        secret_hash: Some(grantor_core::secret::hash("gr_sec_old")),
        previous_secret_hash: None,
        previous_secret_expires_at: 0,
        redirect_uris: vec![WEB_REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: ScopeSet::parse("openid trades:read grantor:apps").unwrap(),
        allow_password: true,
        allow_implicit: false,
        allow_device_code: false,
        keys: None,
        require_par: false,
        access_token_ttl: 0,
        created_at: 0,
    };
    let audit = AuditEvent {
        id: grantor_core::secret::new_id("aud_").unwrap(),
        at: 0,
        actor: "test".into(),
        action: grantor_core::model::AuditAction::AppCreate,
        target: app.client_id.clone(),
        org_id: Some(org_id.into()),
        source: None,
        outcome: grantor_core::model::AuditOutcome::Success,
        details: serde_json::json!({}),
    };
    srv.state.store.create_app(&app, &audit).await.unwrap();
    app
}

async fn management_scopes_never_reach_users_apps(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let m = &srv.state.manager;
    let org = &seed.seed.org.id;

    // Only server apps may hold them.
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "web",
            "--name",
            "Sneaky",
            "--redirect-uri",
            WEB_REDIRECT,
            "--scope",
            "grantor:apps",
        ],
        None,
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("only server apps"), "{stderr}");
    let (ok, created, stderr) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "Automation",
            "--scope",
            "trades:read",
            "--scope",
            "grantor:apps",
        ],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let automation = created["client_id"].as_str().unwrap().to_string();

    // Only an owner grants them; an admin client may add apps but never hand them on.
    srv.member(org, "dev@acme.example", Role::Developer).await;
    let dev = srv
        .state
        .store
        .user_by_email("dev@acme.example")
        .await
        .unwrap()
        .unwrap();
    let developer = Caller::new(
        Actor::User {
            user_id: dev.id,
            platform_admin: false,
            token: None,
        },
        None,
    );
    let admin_client = Caller::new(
        Actor::AdminClient {
            client_id: seed.seed.client_id().into(),
            org_id: org.clone(),
            scopes: ScopeSet::parse("grantor:apps trades:read").unwrap(),
        },
        None,
    );
    for actor in [&developer, &admin_client] {
        let refused = m
            .add_app_to_organization(actor, &automation, org, vec!["grantor:apps".into()])
            .await;
        assert!(
            matches!(refused, Err(grantor_core::ServiceError::Forbidden(_))),
            "{actor:?}: {refused:?}"
        );
    }
    m.add_app_to_organization(&admin_client, &automation, org, vec!["trades:read".into()])
        .await
        .unwrap();
    m.add_app_to_organization(
        &Caller::operator(),
        &automation,
        org,
        vec!["grantor:apps".into()],
    )
    .await
    .unwrap();

    // A users' app that holds one anyway never passes it on: not on the approval page, not
    // through the password grant, not in an organization that added the app.
    let legacy = legacy_app_with_management_scope(&srv, org).await;
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    let answer = session
        .get(&authorize_url(
            &legacy.client_id,
            WEB_REDIRECT,
            &format!("scope={}&state=s", enc("openid grantor:apps")),
        ))
        .await;
    let location = answer
        .location
        .expect("an error redirect, not an approval page");
    assert!(location.contains("error=invalid_scope"), "{location}");
    let beta = m
        .create_organization(&Caller::operator(), "beta")
        .await
        .unwrap();
    srv.trading_api(&beta).await;
    srv.member(&beta.id, "bob@beta.example", Role::Member).await;
    m.add_app_to_organization(
        &Caller::operator(),
        &legacy.client_id,
        &beta.id,
        vec!["trades:read".into()],
    )
    .await
    .unwrap();
    for (user, org) in [(seed.email.as_str(), "acme"), ("bob@beta.example", "beta")] {
        let (status, body) = srv
            .oauth()
            .password(
                Some((&legacy.client_id, "gr_sec_old")),
                user,
                PASSWORD,
                &[("organization", org)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "openid trades:read", "{org}");
    }
}

async fn introspection_answers_only_the_tokens_app_or_the_audience_owner(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let acme = srv.seed("acme").await;
    let beta = srv.seed("beta").await;
    let token = &srv.token_for(&acme, &[]).await;
    // Another app of the organization that owns the Trading API (its resource server).
    let gateway = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &acme.org.id,
            server_app("gateway", &["trades:read"]),
        )
        .await
        .unwrap();
    let introspect = |id: String, secret: String| {
        let srv = &srv;
        async move { srv.oauth().introspect(Some((&id, &secret)), token).await }
    };
    let own = introspect(acme.client_id().into(), acme.secret().into()).await;
    assert_eq!(own["active"], true);
    let audience_owner = introspect(
        gateway.app.client_id.clone(),
        gateway.client_secret.clone().unwrap(),
    )
    .await;
    assert_eq!(audience_owner["active"], true);
    assert_eq!(audience_owner["aud"], TRADING);
    let stranger = introspect(beta.client_id().into(), beta.secret().into()).await;
    assert_eq!(stranger, serde_json::json!({"active": false}));
}

async fn the_approval_form_rechecks_max_age(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let url = seed.web_authorize_url("scope=openid+trades%3Aread&state=s&max_age=60");
    let page = session.get(&url).await;
    let page = session.follow(page).await;
    let consent = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(
        consent.body.contains("action=\"/consent\""),
        "{}",
        consent.body
    );
    // The page stays open longer than max_age allows.
    clock.advance(120);
    let answer = session
        .decide(&consent, true, &["openid", "trades:read"], None)
        .await;
    let location = answer.location.unwrap();
    assert!(
        location.starts_with("/login?return_to="),
        "sign in again, no code: {location}"
    );
    let page = session.get(&location).await;
    let consent = session.sign_in(&page, &seed.email, PASSWORD).await;
    let answer = session
        .decide(&consent, true, &["openid", "trades:read"], None)
        .await;
    assert!(answer.location.unwrap().starts_with(WEB_REDIRECT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_carry_the_host_prefix_under_an_https_issuer() {
    let srv = TestServer::spawn_with(Backend::Sqlite, Arc::new(SystemClock), |c| {
        c.issuer = Some("https://grantor.example".into());
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    let base = format!("http://{}", srv.address);
    let resp = srv.http.get(format!("{base}/login")).send().await.unwrap();
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-grantor_browser="), "{set}");
    assert!(
        set.contains("; Secure") && set.contains("; Path=/"),
        "{set}"
    );
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    let mut session = HttpSession::new(&base);
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(session.has_cookie("__Host-grantor_session"));
    assert_eq!(session.get("/account").await.status, 200);
}

#[tokio::test]
async fn sqlite_urls_create_a_missing_database_file() {
    let dir = std::env::temp_dir().join(grantor_core::secret::new_id("grantor-url-").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fresh.db");
    let url = format!("sqlite:{}", file.display());
    let (ok, _, stderr) = cli(&url, &["migrate"], None).await;
    assert!(ok, "{stderr}");
    assert!(file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
