//! The user sign-in flows through real OAuth and OpenID Connect client libraries, and each
//! way they must refuse, over raw HTTP.

use crate::both_backends;
use crate::support::oauth::{self, Pkce, code_in, decode_payload, enc, redirect_params};
use crate::support::oauth_http::OAuthHttp;
use crate::support::{Backend, NATIVE_REDIRECT, PASSWORD, TestServer, WEB_REDIRECT, user_app};
use grantor_core::clock::ManualClock;
use grantor_core::model::{AppType, Caller, Role};
use grantor_core::{Clock, SystemClock};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use std::sync::Arc;

both_backends!(
    openid_client_signs_in_with_code_and_pkce_then_refreshes,
    a_confidential_web_app_gets_an_id_token_bound_to_its_access_token,
    a_replayed_code_revokes_what_it_issued,
    pkce_is_checked_and_required_for_native_apps,
    bad_client_or_redirect_uri_shows_a_page_and_never_redirects,
    forms_without_csrf_tokens_are_refused,
    prompt_and_max_age_control_sign_in_and_approval,
    a_user_in_several_organizations_picks_one,
    userinfo_returns_claims_for_the_granted_scopes,
    expired_sign_in_records_are_purged_and_live_ones_kept,
);

fn loopback(port: u16) -> String {
    NATIVE_REDIRECT.replace("127.0.0.1", &format!("127.0.0.1:{port}"))
}

async fn openid_client_signs_in_with_code_and_pkce_then_refreshes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let redirect = loopback(43210);
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(srv.issuer.clone()).unwrap(),
        &OAuthHttp(&srv.http),
    )
    .await
    .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(seed.native.app.client_id.clone()),
        None,
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("trades:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut session = srv.http_session();
    let location = session
        .authorize(
            auth_url.as_str(),
            &seed.email,
            PASSWORD,
            &["openid", "profile", "trades:read"],
        )
        .await;
    assert!(
        location.starts_with(&redirect),
        "the native app's loopback port is kept: {location}"
    );
    let params = redirect_params(&location);
    assert_eq!(params["state"], *csrf.secret());
    assert_eq!(params["iss"], srv.issuer);

    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&OAuthHttp(&srv.http))
        .await
        .expect("code exchange succeeds");
    let id_token = token.id_token().expect("an ID token for scope openid");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert!(claims.auth_time().is_some());
    let at_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Test User")
    );
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "profile", "trades:read"]);

    // Refresh: public clients rotate too.
    let first_refresh = token.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&OAuthHttp(&srv.http))
        .await
        .expect("refresh succeeds");
    let second_refresh = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    assert!(refreshed.id_token().is_some());
    let again = client
        .exchange_refresh_token(second_refresh)
        .unwrap()
        .request_async(&OAuthHttp(&srv.http))
        .await;
    assert!(again.is_ok(), "the rotated token works once");
}

async fn a_confidential_web_app_gets_an_id_token_bound_to_its_access_token(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let body = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid email trades:read",
            false,
        )
        .await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "email openid trades:read");
    let id_token = body["id_token"].as_str().unwrap();
    let claims: Value = decode_payload(id_token);
    assert_eq!(claims["aud"], seed.web.app.client_id.as_str());
    assert_eq!(claims["azp"], seed.web.app.client_id.as_str());
    assert_eq!(claims["nonce"], "n1");
    assert_eq!(claims["email"], seed.email.as_str());
    assert_eq!(claims["iss"], srv.issuer.as_str());
    let access: Value = decode_payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], claims["sub"]);
    assert_eq!(access["org_id"], seed.seed.org.id.as_str());
    assert_eq!(access["aud"], crate::support::TRADING);
}

async fn a_replayed_code_revokes_what_it_issued(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let url = seed.web_authorize_url("scope=openid+trades:read&state=x");
    let location = session
        .authorize(&url, &seed.email, PASSWORD, &["trades:read"])
        .await;
    let code = code_in(&location);
    let basic = seed.web_basic();
    let (status, first) = srv.oauth().exchange_code(basic, &code, WEB_REDIRECT).await;
    assert_eq!(status, 200);
    let (status, replay) = srv.oauth().exchange_code(basic, &code, WEB_REDIRECT).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let info = srv
        .oauth()
        .introspect(basic, first["access_token"].as_str().unwrap())
        .await;
    assert_eq!(
        info["active"], false,
        "the first exchange's access token is revoked"
    );
    let rt = first["refresh_token"].as_str().unwrap();
    let (status, body) = srv.oauth().refresh(basic, rt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "and its refresh token"
    );

    // A code is bound to its app and its redirect URI.
    let location = session.authorize(&url, &seed.email, PASSWORD, &[]).await;
    let code = code_in(&location);
    let other = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.seed.org.id,
            user_app(AppType::Web, "Other", WEB_REDIRECT, &[]),
        )
        .await
        .unwrap();
    let (status, body) = srv
        .oauth()
        .exchange_code(oauth::basic(&other), &code, WEB_REDIRECT)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let location = session.authorize(&url, &seed.email, PASSWORD, &[]).await;
    let code = code_in(&location);
    let (status, body) = srv
        .oauth()
        .exchange_code(basic, &code, "https://app.example.com/other")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

async fn pkce_is_checked_and_required_for_native_apps(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let native = &seed.native.app.client_id;
    let redirect = loopback(5000);
    let url = |more: &str| oauth::authorize_url(native, &redirect, more);
    // No code_challenge: the error goes back to the app, with state and iss.
    let page = session.get(&url("scope=openid&state=abc")).await;
    let params = redirect_params(page.location.as_deref().unwrap());
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("PKCE"));
    assert_eq!(params["state"], "abc");
    assert_eq!(params["iss"], srv.issuer);
    // plain is refused.
    let plain = format!(
        "scope=openid&code_challenge={}&code_challenge_method=plain",
        "a".repeat(43)
    );
    let page = session.get(&url(&plain)).await;
    let params = redirect_params(page.location.as_deref().unwrap());
    assert_eq!(params["error"], "invalid_request");
    assert!(!params.contains_key("state"), "no state sent, none echoed");

    // A wrong verifier fails; the right one (on a fresh code) works.
    let pkce = Pkce::s256();
    let url = url(&format!("scope=openid&{}", pkce.query()));
    let location = session.authorize(&url, &seed.email, PASSWORD, &[]).await;
    let code = code_in(&location);
    let wrong = "x".repeat(50);
    let (status, body) = srv
        .oauth()
        .exchange_code_public(native, &code, &redirect, &wrong)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let location = session.authorize(&url, &seed.email, PASSWORD, &[]).await;
    let code = code_in(&location);
    let (status, body) = srv
        .oauth()
        .exchange_code_public(native, &code, &redirect, &pkce.verifier)
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn bad_client_or_redirect_uri_shows_a_page_and_never_redirects(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let web = &seed.web.app.client_id;
    for url in [
        oauth::authorize_url(web, "https://evil.example/cb", "scope=openid"),
        oauth::authorize_url(web, "https://app.example.com/callback/../x", "scope=openid"),
        "/oauth2/authorize?response_type=code&client_id=app_nope&scope=openid".to_string(),
        "/oauth2/authorize?response_type=code&scope=openid".to_string(),
        format!("/oauth2/authorize?client_id={web}&client_id={web}"),
        oauth::authorize_url(
            &seed.native.app.client_id,
            "http://localhost:9/callback",
            "scope=openid",
        ),
    ] {
        let page = session.get(&url).await;
        assert_eq!(page.status, 400, "{url}");
        assert!(page.location.is_none(), "{url} must not redirect");
        assert!(page.body.contains("<h1>"), "an HTML error page");
    }
    // Errors after the redirect URI is known go back to the app.
    let page = session
        .get(&format!(
            "/oauth2/authorize?response_type=magic&client_id={web}&redirect_uri={}&state=q",
            enc(WEB_REDIRECT)
        ))
        .await;
    let params = redirect_params(page.location.as_deref().unwrap());
    assert_eq!(params["error"], "unsupported_response_type");
    let page = session.get(&seed.web_authorize_url("scope=admin")).await;
    assert_eq!(
        redirect_params(page.location.as_deref().unwrap())["error"],
        "invalid_scope"
    );
}

async fn forms_without_csrf_tokens_are_refused(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    assert!(session.has_cookie("grantor_browser"));
    let return_to = page.field("return_to").unwrap();
    for csrf in ["", "forged", "AAAA"] {
        let answer = session
            .post(
                "/login",
                &[
                    ("csrf", csrf),
                    ("return_to", &return_to),
                    ("email", &seed.email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(answer.status, 403);
        assert!(!session.has_cookie("grantor_session"));
    }
    // A token from another browser does not fit this one.
    let mut other = srv.http_session();
    let other_page = other.get("/login").await;
    let foreign = other_page.field("csrf").unwrap();
    let answer = session
        .post(
            "/login",
            &[
                ("csrf", &foreign),
                ("return_to", &return_to),
                ("email", &seed.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);

    let signed_in = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(
        session.has_cookie("grantor_session"),
        "{}",
        signed_in.status
    );
    let url = seed.web_authorize_url("scope=openid");
    let consent = session.get(&url).await;
    let request = consent.field("request").unwrap();
    let answer = session
        .post("/consent", &[("request", &request), ("decision", "allow")])
        .await;
    assert_eq!(answer.status, 403);
    assert!(answer.location.is_none());
    let answer = session
        .post(
            "/account/approvals/revoke",
            &[
                ("client_id", &seed.web.app.client_id),
                ("org_id", &seed.seed.org.id),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);
}

async fn prompt_and_max_age_control_sign_in_and_approval(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let base = seed.web_authorize_url("scope=openid&state=p");
    let page = session.get(&format!("{base}&prompt=none")).await;
    let params = redirect_params(page.location.as_deref().unwrap());
    assert_eq!(params["error"], "login_required");
    assert_eq!(params["state"], "p");
    let page = session.get("/login").await;
    session.sign_in(&page, &seed.email, PASSWORD).await;
    let page = session.get(&format!("{base}&prompt=none")).await;
    assert_eq!(
        redirect_params(page.location.as_deref().unwrap())["error"],
        "consent_required"
    );
    session.authorize(&base, &seed.email, PASSWORD, &[]).await;
    let page = session.get(&format!("{base}&prompt=none")).await;
    assert!(redirect_params(page.location.as_deref().unwrap()).contains_key("code"));
    // prompt=login asks to sign in again even with a session; so does an exceeded max_age.
    let page = session.get(&format!("{base}&prompt=login")).await;
    assert!(page.location.as_deref().unwrap().starts_with("/login"));
    clock.advance(1);
    let page = session.get(&format!("{base}&max_age=0")).await;
    assert!(page.location.as_deref().unwrap().starts_with("/login"));
    let page = session.get(&format!("{base}&max_age=3600")).await;
    assert!(redirect_params(page.location.as_deref().unwrap()).contains_key("code"));
    let page = session.get(&format!("{base}&prompt=none+login")).await;
    assert_eq!(
        redirect_params(page.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
}

async fn a_user_in_several_organizations_picks_one(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let m = &srv.state.manager;
    let globex = m
        .create_organization(&Caller::operator(), "globex")
        .await
        .unwrap();
    srv.trading_api(&globex).await;
    srv.member(&globex.id, &seed.email, Role::Member).await;
    m.add_app_to_organization(
        &Caller::operator(),
        &seed.web.app.client_id,
        "globex",
        vec!["trades:read".into()],
    )
    .await
    .unwrap();
    let mut session = srv.http_session();
    let url = seed.web_authorize_url("scope=openid+trades:read+trades:write");
    let page = session.get(&url).await;
    let page = session.follow(page).await;
    let consent = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert!(consent.body.contains("Act in which organization?"));
    assert_eq!(consent.fields("org").len(), 2);
    let answer = session
        .decide(
            &consent,
            true,
            &["trades:read", "trades:write"],
            Some(&globex.id),
        )
        .await;
    let code = code_in(answer.location.as_deref().unwrap());
    let (_, body) = srv
        .oauth()
        .exchange_code(seed.web_basic(), &code, WEB_REDIRECT)
        .await;
    assert_eq!(
        body["scope"], "openid trades:read",
        "globex granted this app trades:read only"
    );
    assert_eq!(
        decode_payload(body["access_token"].as_str().unwrap())["org_id"],
        globex.id.as_str()
    );
    // A user of neither organization is turned away with access_denied.
    srv.state
        .manager
        .create_user(
            &Caller::operator(),
            "eve@else.example",
            Some(PASSWORD),
            None,
            false,
        )
        .await
        .unwrap();
    let mut eve = srv.http_session();
    let page = eve.get(&format!("{url}&state=e")).await;
    let page = eve.follow(page).await;
    let answer = eve.sign_in(&page, "eve@else.example", PASSWORD).await;
    assert_eq!(
        redirect_params(answer.location.as_deref().unwrap())["error"],
        "access_denied"
    );
}

async fn userinfo_returns_claims_for_the_granted_scopes(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let tokens = srv
        .code_flow(&seed.email, &seed.web, WEB_REDIRECT, "openid email", false)
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    for post in [false, true] {
        let req = if post {
            srv.http.post(srv.url("/oauth2/userinfo"))
        } else {
            srv.http.get(srv.url("/oauth2/userinfo"))
        };
        let resp = req.bearer_auth(at).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let claims: Value = resp.json().await.unwrap();
        assert_eq!(claims["email"], seed.email.as_str());
        assert!(claims.get("name").is_none(), "profile was not granted");
    }
    let resp = srv
        .http
        .get(srv.url("/oauth2/userinfo"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // A client-credentials token is not a user's.
    let cc = srv.token_for(&seed.seed, &[]).await;
    let resp = srv
        .http
        .get(srv.url("/oauth2/userinfo"))
        .bearer_auth(cc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

/// Rows in the tables that grow with sign-ins: grants, codes, refresh tokens, sessions.
async fn sign_in_rows(srv: &TestServer) -> [i64; 4] {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&grantor_store::pool::database_url(&srv.db.url).1)
        .await
        .unwrap();
    let mut counts = [0; 4];
    for (count, table) in counts.iter_mut().zip([
        "grants",
        "authorization_codes",
        "refresh_tokens",
        "sessions",
    ]) {
        *count = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    counts
}

async fn expired_sign_in_records_are_purged_and_live_ones_kept(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| {
        c.access_token_ttl = 900;
        c.refresh_token_ttl = 3600;
        c.session_ttl = 600;
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    let basic = seed.web_basic();
    let url = seed.web_authorize_url("scope=openid+trades:read&state=x");
    let mut session = srv.http_session();
    let mut code = async || {
        let location = session
            .authorize(&url, &seed.email, PASSWORD, &["trades:read"])
            .await;
        code_in(&location)
    };
    let refresh = async |token: &str| srv.oauth().refresh(basic, token, None).await;
    let exchange = async |code: &str| srv.oauth().exchange_code(basic, code, WEB_REDIRECT).await;
    let purge = async || {
        srv.state
            .store
            .purge_expired(Clock::now(clock.as_ref()))
            .await
            .unwrap();
        sign_in_rows(&srv).await
    };

    // Three authorizations: one the app keeps refreshing, one it leaves, one never exchanged.
    let (kept_code, left_code) = (code().await, code().await);
    let _never_exchanged = code().await;
    let (_, kept) = exchange(&kept_code).await;
    let (_, left) = exchange(&left_code).await;
    assert_eq!(purge().await, [3, 3, 2, 1], "nothing has expired yet");

    // Past the session and the access tokens: the session and the unexchanged code (with its
    // grant) go; grants with a live refresh token stay, their spent codes with them.
    clock.advance(1000);
    let (status, kept) = refresh(kept["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(purge().await, [2, 2, 3, 0]);

    // So a late replay of a spent code still revokes what it issued ...
    let (status, _) = exchange(&left_code).await;
    assert_eq!(status, 400);
    let (status, _) = refresh(left["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "the replayed code's refresh token is revoked");
    // ... and a revoked grant goes at the next purge, with its code and refresh token.
    assert_eq!(purge().await, [1, 1, 2, 0]);

    // Expired refresh tokens go; the grant lives while its newest one does.
    clock.advance(3000);
    let (status, kept) = refresh(kept["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "a grant in use is never purged");
    assert_eq!(purge().await, [1, 1, 2, 0]);

    // Left alone past its refresh tokens' lifetime, nothing of it remains.
    clock.advance(3601);
    assert_eq!(purge().await, [0, 0, 0, 0]);
    let (status, body) = refresh(kept["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
