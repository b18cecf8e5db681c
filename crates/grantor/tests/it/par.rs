//! Pushed authorization requests (RFC 9126): an app pushes its authorization request to
//! `/oauth2/par` and sends the browser with only the `request_uri` it got back, which works
//! once, briefly, for that app alone; bad pushes are JSON errors; and an installation may
//! refuse authorization requests that were not pushed, while pushed ones still pass the
//! sign-in page and the approval form.

use crate::both_backends;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth::{Pkce, authorize_url, basic, code_in, enc, redirect_params};
use crate::support::{Backend, NATIVE_REDIRECT, PASSWORD, SignInSeed, TestServer, WEB_REDIRECT};
use grantor_core::clock::ManualClock;
use grantor_core::{Clock, SystemClock};
use serde_json::Value;
use std::sync::Arc;

both_backends!(
    a_pushed_request_runs_the_code_flow_once,
    expired_and_other_apps_request_uris_are_refused,
    bad_pushes_are_json_errors,
    the_installation_can_require_pushed_requests,
    pushed_requests_are_stored_hashed_and_purged,
);

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

async fn spawn(backend: Backend, require: bool) -> (TestServer, Arc<ManualClock>, SignInSeed) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| {
        c.require_pushed_authorization_requests = require;
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    (srv, clock, seed)
}

/// Pushes `form` with optional Basic credentials; returns status, headers and body.
async fn push(
    srv: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    srv.post_form("/oauth2/par", basic, form).await
}

/// The native app's pushed code request with PKCE; returns the request_uri.
async fn push_native(srv: &TestServer, seed: &SignInSeed, proof: &Pkce) -> String {
    let id = seed.native.app.client_id.as_str();
    let (status, headers, body) = push(
        srv,
        None,
        &[
            ("client_id", id),
            ("response_type", "code"),
            ("redirect_uri", NATIVE_REDIRECT),
            ("scope", "openid profile"),
            ("state", "pushed-state"),
            ("nonce", "n1"),
            ("code_challenge", &proof.challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_string();
    let random = uri.strip_prefix(PREFIX).expect("an RFC 9126 request_uri");
    assert_eq!(random.len(), 43, "256 random bits, base64url");
    uri
}

fn by_reference(client_id: &str, request_uri: &str) -> String {
    format!(
        "/oauth2/authorize?client_id={client_id}&request_uri={}",
        enc(request_uri)
    )
}

/// An error page, never a redirect to the app.
fn assert_error_page(page: &Page, says: &str) {
    assert_eq!(page.status, 400, "{:?} {}", page.location, page.body);
    assert!(page.location.is_none());
    assert!(page.body.contains("<h1>"), "an HTML error page");
    assert!(page.body.contains(says), "{}", page.body);
}

async fn a_pushed_request_runs_the_code_flow_once(backend: Backend) {
    let (srv, _clock, seed) = spawn(backend, false).await;
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta = srv.get_json(doc).await;
        assert_eq!(
            meta["pushed_authorization_request_endpoint"],
            srv.url("/oauth2/par")
        );
        assert_eq!(meta["require_pushed_authorization_requests"], false);
    }
    let proof = Pkce::s256();
    let uri = push_native(&srv, &seed, &proof).await;
    let id = seed.native.app.client_id.as_str();
    // Parameters beside the request_uri are ignored (RFC 9126 4): this scope is not asked.
    let url = format!("{}&scope=email&state=other", by_reference(id, &uri));
    let location = srv
        .http_session()
        .authorize(&url, &seed.email, PASSWORD, &["openid", "profile"])
        .await;
    assert!(location.starts_with(NATIVE_REDIRECT), "{location}");
    let back = redirect_params(&location);
    assert_eq!(back["state"], "pushed-state");
    let code = code_in(&location);
    let (status, tokens) = srv
        .oauth()
        .exchange_code_public(id, &code, NATIVE_REDIRECT, &proof.verifier)
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");
    assert!(tokens["id_token"].is_string());

    // Used once: the same request_uri again is an error page, even for a signed-in user.
    let mut again = srv.http_session();
    let page = again.get(&by_reference(id, &uri)).await;
    assert_error_page(&page, "request_uri is unknown");
}

async fn expired_and_other_apps_request_uris_are_refused(backend: Backend) {
    let (srv, clock, seed) = spawn(backend, false).await;
    let id = seed.native.app.client_id.as_str();
    let mut browser = HttpSession::new(&srv.issuer);

    // Another app cannot use it, and trying does not use it up.
    let uri = push_native(&srv, &seed, &Pkce::s256()).await;
    let web = seed.web.app.client_id.as_str();
    let page = browser.get(&by_reference(web, &uri)).await;
    assert_error_page(&page, "request_uri is unknown");
    let page = browser.get(&by_reference(id, &uri)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.location.unwrap().starts_with("/login?"));

    // Expired after 60 seconds.
    let uri = push_native(&srv, &seed, &Pkce::s256()).await;
    clock.advance(60);
    let page = browser.get(&by_reference(id, &uri)).await;
    assert_error_page(&page, "request_uri is unknown");
    // Made up, or without client_id.
    let page = browser
        .get(&by_reference(id, &format!("{PREFIX}not-one-we-issued")))
        .await;
    assert_error_page(&page, "request_uri is unknown");
    let page = browser
        .get(&format!("/oauth2/authorize?request_uri={}", enc(&uri)))
        .await;
    assert_error_page(&page, "client_id");
}

async fn bad_pushes_are_json_errors(backend: Backend) {
    let (srv, _clock, seed) = spawn(backend, false).await;
    let native = seed.native.app.client_id.as_str();
    let web = seed.web.app.client_id.as_str();
    let proof = Pkce::s256();
    let ok = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("response_type", "code".to_string()),
            ("redirect_uri", WEB_REDIRECT.to_string()),
            ("scope", "openid".to_string()),
        ];
        for (k, v) in extra {
            form.retain(|(n, _)| n != k);
            form.push((k, v.to_string()));
        }
        form
    };
    let send = |form: Vec<(&'static str, String)>| {
        let srv = &srv;
        let creds = basic(&seed.web);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            push(srv, creds, &form).await
        }
    };
    for (extra, error) in [
        (&[("scope", "admin:everything")][..], "invalid_scope"),
        (&[("scope", "grantor:apps")][..], "invalid_scope"),
        (
            &[("redirect_uri", "https://evil.example/cb")][..],
            "invalid_request",
        ),
        (
            &[("response_type", "id_token")][..],
            "unsupported_response_type",
        ),
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
        (
            &[("request_uri", "urn:ietf:params:oauth:request_uri:x")][..],
            "invalid_request",
        ),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")][..],
            "request_not_supported",
        ),
        (&[("prompt", "none login")][..], "invalid_request"),
    ] {
        let (status, headers, body) = send(ok(extra)).await;
        assert_eq!(status, 400, "{extra:?}: {body}");
        assert_eq!(body["error"], error, "{extra:?}: {body}");
        assert!(headers.get("location").is_none());
        assert_eq!(headers["cache-control"], "no-store");
    }
    // A repeated parameter, as anywhere.
    let (status, _, body) = push(
        &srv,
        basic(&seed.web),
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A confidential app authenticates: no secret, or a wrong one, is invalid_client.
    let form = [
        ("client_id", web),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let (status, headers, body) = push(&srv, None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers.get("www-authenticate").is_some());
    let (status, _, body) = push(&srv, Some((web, "wrong")), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // The body cannot name another app than the one that authenticated.
    let other = [
        ("client_id", native),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let (status, _, body) = push(&srv, basic(&seed.web), &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // A native app is refused what a native app is refused at /oauth2/authorize: no PKCE.
    let (status, _, body) = push(
        &srv,
        None,
        &[
            ("client_id", native),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let challenge = proof.challenge.as_str();
    let (status, _, body) = push(
        &srv,
        None,
        &[
            ("client_id", native),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", challenge),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Only POST, and only forms.
    let (status, _, _) = srv.get_raw("/oauth2/par", None).await;
    assert_eq!(status, 405);
    let big = "x".repeat(70 * 1024);
    let (status, _, body) = push(&srv, basic(&seed.web), &[("state", &big)]).await;
    assert_eq!(status, 413, "{body}");
}

async fn the_installation_can_require_pushed_requests(backend: Backend) {
    let (srv, _clock, seed) = spawn(backend, true).await;
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert_eq!(
            srv.get_json(doc).await["require_pushed_authorization_requests"],
            true
        );
    }
    let web = seed.web.app.client_id.as_str();
    let mut browser = srv.http_session();
    let plain = seed.web_authorize_url("scope=openid&state=s1");
    let page = browser.get(&plain).await;
    assert_error_page(&page, "pushed authorization requests");
    // A made-up mark does not pass for a pushed request.
    let page = browser
        .get(&format!("{plain}&grantor_pushed=99999999999.AAAA"))
        .await;
    assert_error_page(&page, "pushed authorization requests");

    // A web app pushes with its secret; the browser signs in and approves, coming back to
    // the authorization endpoint with the expanded request, which the rule lets through.
    let (status, _, body) = push(
        &srv,
        basic(&seed.web),
        &[
            ("response_type", "code"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", "openid trades:read"),
            ("state", "s2"),
            ("prompt", "login consent"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().unwrap();
    let page = browser.get(&by_reference(web, uri)).await;
    let page = browser.follow(page).await;
    assert!(page.body.contains("action=\"/login\""), "{}", page.body);
    // The sign-in page's way back is marked; altered, it is refused.
    let return_to = page.field("return_to").unwrap();
    assert!(return_to.contains("grantor_pushed="), "{return_to}");
    let tampered = return_to.replace("trades%3Aread", "trades%3Awrite");
    assert_ne!(tampered, return_to);
    let refused = srv.http_session().get(&tampered).await;
    assert_error_page(&refused, "pushed authorization requests");

    let page = browser.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(page.body.contains("action=\"/consent\""), "{}", page.body);
    let answer = browser
        .decide(&page, true, &["openid", "trades:read"], None)
        .await;
    let location = answer.location.expect("a redirect back to the app");
    assert!(location.starts_with(WEB_REDIRECT), "{location}");
    assert_eq!(redirect_params(&location)["state"], "s2");
    let code = code_in(&location);
    let (status, tokens) = srv
        .oauth()
        .exchange_code(basic(&seed.web), &code, WEB_REDIRECT)
        .await;
    assert_eq!(status, 200, "{tokens}");

    // The pushed request's code flow helper path is unaffected for plain apps' code exchange,
    // but a plain request still cannot start one.
    let page = browser
        .get(&authorize_url(web, WEB_REDIRECT, "scope=openid"))
        .await;
    assert_error_page(&page, "pushed authorization requests");
}

/// The stored rows: `(request_uri_hash, params)`.
async fn stored(srv: &TestServer) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(&srv.db.url).1)
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT request_uri_hash, params FROM pushed_requests")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

async fn pushed_requests_are_stored_hashed_and_purged(backend: Backend) {
    let (srv, clock, seed) = spawn(backend, false).await;
    let (id, secret) = basic(&seed.web).unwrap();
    let (status, _, body) = push(
        &srv,
        None,
        &[
            ("client_id", id),
            ("client_secret", secret),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().unwrap();
    let random = uri.strip_prefix(PREFIX).unwrap();
    let rows = stored(&srv).await;
    assert_eq!(rows.len(), 1);
    let (hash, params) = &rows[0];
    assert!(
        !hash.contains(random),
        "only a hash of the request_uri is kept"
    );
    assert!(
        !params.contains(secret),
        "the client secret is not kept: {params}"
    );
    assert!(params.contains("client_id="), "{params}");

    let purge = async |at: i64| srv.state.store.purge_expired(at).await.unwrap();
    purge(clock.now()).await;
    assert_eq!(stored(&srv).await.len(), 1, "a live request stays");
    purge(clock.now() + 61).await;
    assert!(stored(&srv).await.is_empty(), "an expired one goes");
}
