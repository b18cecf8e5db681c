//! The approval page: what the user denies or leaves unchecked is honoured, and approvals
//! are remembered until the user revokes them.

use crate::both_backends;
use crate::support::oauth::{code_in, redirect_params};
use crate::support::{Backend, PASSWORD, TestServer, WEB_REDIRECT};

both_backends!(
    denied_consent_and_unchecked_scopes_are_honoured,
    approvals_are_remembered_and_can_be_revoked,
);

async fn denied_consent_and_unchecked_scopes_are_honoured(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let url = seed.web_authorize_url("scope=openid+trades:read+trades:write&state=st");
    let page = session.get(&url).await;
    let page = session.follow(page).await;
    let consent = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(
        consent.body.contains("Trading web")
            && consent.body.contains("Place orders")
            && consent.body.contains("acme")
    );
    let denied = session
        .decide(&consent, false, &["trades:read"], None)
        .await;
    let params = redirect_params(denied.location.as_deref().unwrap());
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st");
    assert_eq!(params["iss"], srv.issuer);

    let body = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read trades:write",
            false,
        )
        .await;
    // code_flow approves every scope it asked for; now uncheck one on a fresh prompt.
    assert_eq!(body["scope"], "openid trades:read trades:write");
    let page = session.get(&format!("{url}&prompt=consent")).await;
    let approved = session.decide(&page, true, &["trades:read"], None).await;
    let code = code_in(approved.location.as_deref().unwrap());
    let (_, body) = srv
        .oauth()
        .exchange_code(seed.web_basic(), &code, WEB_REDIRECT)
        .await;
    assert_eq!(
        body["scope"], "openid trades:read",
        "unchecked scopes are not granted"
    );
}

async fn approvals_are_remembered_and_can_be_revoked(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let url = seed.web_authorize_url("scope=openid+trades:read");
    let location = session
        .authorize(&url, &seed.email, PASSWORD, &["trades:read"])
        .await;
    let code = code_in(&location);
    let basic = seed.web_basic();
    let (_, tokens) = srv.oauth().exchange_code(basic, &code, WEB_REDIRECT).await;
    // Second time: no approval page.
    let page = session.get(&url).await;
    assert!(
        redirect_params(page.location.as_deref().unwrap()).contains_key("code"),
        "remembered approval skips the page"
    );
    // Asking for more shows the page again.
    let page = session
        .get(&url.replace("trades:read", "trades:read+trades:write"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/consent\""));

    let account = session.get("/account").await;
    assert!(account.body.contains("Trading web"));
    let csrf = account.field("csrf").unwrap();
    let revoked = session
        .post(
            "/account/approvals/revoke",
            &[
                ("csrf", &csrf),
                ("client_id", &seed.web.app.client_id),
                ("org_id", &seed.seed.org.id),
            ],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let account = session.get("/account").await;
    assert!(!account.body.contains("Trading web"));
    let (status, _) = srv
        .oauth()
        .refresh(basic, tokens["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        status, 400,
        "revoking the approval revokes its refresh tokens"
    );
    let info = srv
        .oauth()
        .introspect(basic, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["active"], false);
    let page = session.get(&url).await;
    assert_eq!(page.status, 200, "the approval page is shown again");
}
