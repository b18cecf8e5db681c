//! Signing out (RP-initiated logout): only to addresses registered for the app it names.

use crate::both_backends;
use crate::support::oauth::enc;
use crate::support::*;

both_backends!(
    rp_initiated_logout_returns_only_to_registered_addresses,
    logout_returns_only_to_addresses_registered_for_the_named_app,
);

async fn rp_initiated_logout_returns_only_to_registered_addresses(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let tokens = srv
        .code_flow(&seed.email, &seed.web, WEB_REDIRECT, "openid", false)
        .await;
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    let bad = session
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri={}",
            seed.web.app.client_id,
            enc("https://evil.example/")
        ))
        .await;
    assert_eq!(bad.status, 400);
    let page = session
        .get(&format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            tokens["id_token"].as_str().unwrap(),
            enc(SIGNED_OUT)
        ))
        .await;
    assert_eq!(page.status, 200);
    let csrf = page.field("csrf").unwrap();
    let answer = session
        .post(
            "/logout",
            &[
                ("csrf", &csrf),
                ("client_id", &page.field("client_id").unwrap()),
                (
                    "post_logout_redirect_uri",
                    &page.field("post_logout_redirect_uri").unwrap(),
                ),
                ("state", &page.field("state").unwrap()),
            ],
        )
        .await;
    assert_eq!(
        answer.location.as_deref(),
        Some("https://app.example.com/signed-out?state=bye")
    );
    assert!(!session.has_cookie("grantor_session"));
    let account = session.get("/account").await;
    assert!(account.location.unwrap().starts_with("/login"));
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["end_session_endpoint"], srv.url("/logout"));
}

async fn logout_returns_only_to_addresses_registered_for_the_named_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let web = seed.web.app.client_id.as_str();
    let server = seed.seed.client_id();
    // No session, so no CSRF token either: the redirect must still be checked.
    for form in [
        vec![("post_logout_redirect_uri", "https://evil.example/")],
        vec![
            ("client_id", web),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        // Registered, but for another app than the one named; or no app named at all.
        vec![
            ("client_id", server),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
        vec![("post_logout_redirect_uri", SIGNED_OUT)],
        vec![
            ("client_id", web),
            ("id_token_hint", "not.a.token"),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
    ] {
        let resp = srv
            .http
            .post(srv.url("/logout"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{form:?}");
        assert_eq!(
            resp.headers()["location"],
            "/logout",
            "{form:?} shows the signed-out page"
        );
    }
    let resp = srv
        .http
        .post(srv.url("/logout"))
        .form(&[
            ("client_id", web),
            ("post_logout_redirect_uri", SIGNED_OUT),
            ("state", "s 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        format!("{SIGNED_OUT}?state=s+1"),
        "an address registered for the named app is honoured with or without a session"
    );
    let (status, _, body) = srv.get_raw("/logout", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("You are signed out"));
}
