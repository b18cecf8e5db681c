//! Users' API tokens: made with the CLI, exchanged at the token endpoint (RFC 8693) with a
//! plain form post, accepted by a resource server, and refused once revoked, expired, or
//! their user left the organization.

use crate::both_backends;
use crate::support::oauth::{self, TOKEN_EXCHANGE, decode_payload};
use crate::support::{
    Backend, PASSWORD, SignInSeed, TRADING, TestServer, WEB_REDIRECT, cli, eventually,
};
use grantor_core::clock::ManualClock;
use grantor_core::manage::NewApiToken;
use grantor_core::model::{Caller, Role};
use grantor_core::{Clock, SystemClock};
use grantor_resource::{CallerKind, Config, Validator};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    an_api_token_is_exchanged_for_an_access_token_an_api_accepts,
    revoked_expired_or_orphaned_api_tokens_are_refused,
    api_token_scopes_follow_the_role,
    a_deleted_app_stops_working_everywhere,
    a_disabled_user_is_refused_everywhere_until_enabled,
    a_flush_of_last_uses_cut_off_midway_loses_none,
);

/// `email`'s API tokens as the CLI lists them.
async fn listed_tokens(srv: &TestServer, email: &str) -> Value {
    let (ok, listed, err) = cli(&srv.db.url, &["api-token", "list", "--user", email], None).await;
    assert!(ok, "{err}");
    listed
}

/// `grantor api-token create` for the seed's member; returns the CLI's answer.
async fn create_with_cli(srv: &TestServer, seed: &SignInSeed, scopes: &[&str]) -> Value {
    let mut args = vec![
        "api-token",
        "create",
        "--org",
        "acme",
        "--user",
        &seed.email,
        "--name",
        "nightly report",
    ];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    let (ok, out, stderr) = cli(&srv.db.url, &args, None).await;
    assert!(ok, "{stderr}");
    out
}

async fn an_api_token_is_exchanged_for_an_access_token_an_api_accepts(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let created = create_with_cli(&srv, &seed, &["trades:read"]).await;
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("gr_api_") && token.len() == "gr_api_".len() + 43);
    let ninety_days = SystemClock.now() + 90 * 24 * 3600;
    assert!((created["expires_at"].as_i64().unwrap() - ninety_days).abs() < 60);

    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "trades:read");
    assert!(body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    let user = grantor_core::store::UserStore::user_by_email(&srv.state.store, &seed.email)
        .await
        .unwrap()
        .unwrap();
    let claims = decode_payload(access);
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["org_id"], seed.seed.org.id.as_str());
    assert_eq!(claims["client_id"], created["id"]);

    // The Trading API's own check (grantor-resource) takes it as the user.
    let caller = Validator::new(Config::new(&srv.issuer, TRADING))
        .validate(access)
        .await
        .unwrap();
    assert_eq!(caller.kind, CallerKind::User);
    assert_eq!(caller.subject, user.id);
    assert_eq!(caller.scopes, ["trades:read"]);

    // Listing shows when it was last used (written on the server's next poll), never the
    // token.
    let list = || listed_tokens(&srv, &seed.email);
    eventually(
        "the last use is written",
        Duration::from_secs(2),
        || async { list().await[0]["last_used_at"].is_i64() },
    )
    .await;
    let listed = list().await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "nightly report");
    assert_eq!(listed[0]["scopes"], serde_json::json!(["trades:read"]));
    assert!(!listed[0].to_string().contains(token));

    // A scope the token does not carry is refused; so is a made-up token.
    let (status, body) = srv
        .oauth()
        .exchange_api_token(token, Some("trades:write"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = srv
        .oauth()
        .exchange_api_token("gr_api_not-a-real-token", None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&TOKEN_EXCHANGE.into())
    );
    let oauth = srv
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        oauth["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&TOKEN_EXCHANGE.into())
    );
    assert_eq!(oauth["grantor_management_api"], srv.url("/api/v1"));
}

async fn revoked_expired_or_orphaned_api_tokens_are_refused(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;

    // Revoked: refused, and what it already issued stops passing introspection.
    let created = create_with_cli(&srv, &seed, &["trades:read"]).await;
    let token = created["token"].as_str().unwrap();
    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        srv.oauth().introspect(seed.seed.basic(), &access).await["active"],
        true
    );
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &["api-token", "revoke", created["id"].as_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    // The CLI revoked it in another process: the server learns it on its next poll.
    eventually(
        "the revocation reaches the server",
        Duration::from_secs(1),
        || async { srv.oauth().introspect(seed.seed.basic(), &access).await["active"] == false },
    )
    .await;

    // Expired.
    let (short, secret) = srv
        .state
        .manager
        .create_api_token(
            &Caller::operator(),
            "acme",
            &seed.email,
            NewApiToken {
                name: "short".into(),
                scopes: vec!["trades:read".into()],
                expires_in: Some(60),
            },
        )
        .await
        .unwrap();
    assert_eq!(srv.oauth().exchange_api_token(&secret, None).await.0, 200);
    clock.advance(61);
    let (status, body) = srv.oauth().exchange_api_token(&secret, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{short:?}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Its user left the organization.
    let created = create_with_cli(&srv, &seed, &["trades:read"]).await;
    let token = created["token"].as_str().unwrap();
    assert_eq!(srv.oauth().exchange_api_token(token, None).await.0, 200);
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &["member", "remove", "--org", "acme", "--user", &seed.email],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no longer a member")
    );
}

async fn api_token_scopes_follow_the_role(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    // A member cannot put an owner's management scope in a token.
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &[
            "api-token",
            "create",
            "--org",
            "acme",
            "--user",
            &seed.email,
            "--name",
            "x",
            "--scope",
            "grantor:members",
        ],
        None,
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("grantor:members"), "{stderr}");

    // An owner can; once demoted, exchanges carry only what the new role allows.
    srv.member(&seed.seed.org.id, &seed.email, Role::Owner)
        .await;
    let created = create_with_cli(
        &srv,
        &seed,
        &["grantor:members", "grantor:api-tokens", "trades:read"],
    )
    .await;
    let token = created["token"].as_str().unwrap();
    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "grantor:api-tokens grantor:members trades:read"
    );
    let claims = decode_payload(body["access_token"].as_str().unwrap());
    let audiences = claims["aud"].as_array().unwrap();
    assert!(audiences.contains(&srv.url("/api/v1").into()), "{claims}");
    assert!(audiences.contains(&TRADING.into()), "{claims}");
    // (Another owner first: the only owner cannot step down.)
    srv.member(&seed.seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    srv.member(&seed.seed.org.id, &seed.email, Role::Member)
        .await;
    let (status, body) = srv.oauth().exchange_api_token(token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "grantor:api-tokens trades:read");
}

async fn a_deleted_app_stops_working_everywhere(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let gateway = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.seed.org.id,
            crate::support::server_app("gateway", &["trades:read"]),
        )
        .await
        .unwrap();
    let access = srv.token_for(&seed.seed, &[]).await;
    let (ok, _, stderr) = cli(&srv.db.url, &["app", "delete", seed.seed.client_id()], None).await;
    assert!(ok, "{stderr}");
    // The server notices within its poll interval.
    let (id, secret) = (seed.seed.client_id(), seed.seed.secret());
    eventually(
        "the deleted app no longer gets tokens",
        Duration::from_secs(2),
        || async { srv.oauth().client_credentials(id, secret, &[]).await.0 == 401 },
    )
    .await;
    let answer = srv
        .oauth()
        .introspect(oauth::basic(&gateway), &access)
        .await;
    assert_eq!(answer["active"], false, "its tokens die with it");
    let (ok, _, stderr) = cli(&srv.db.url, &["app", "show", seed.seed.client_id()], None).await;
    assert!(!ok && stderr.contains("not found"), "{stderr}");
}

async fn a_disabled_user_is_refused_everywhere_until_enabled(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let signed_in = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read",
            false,
        )
        .await;
    let refresh_token = signed_in["refresh_token"].as_str().unwrap().to_string();
    let created = create_with_cli(&srv, &seed, &["trades:read"]).await;
    let api_token = created["token"].as_str().unwrap();
    assert_eq!(srv.oauth().exchange_api_token(api_token, None).await.0, 200);
    let mut browser = srv.http_session();
    let page = browser.get("/login").await;
    browser.sign_in(&page, &seed.email, PASSWORD).await;
    assert_eq!(browser.get("/account").await.status, 200);

    let (ok, user, stderr) = cli(
        &srv.db.url,
        &["user", "disable", "--email", &seed.email],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(user["disabled_at"].is_i64(), "{user}");

    // The browser already signed in is signed out; the API token, the refresh token and the
    // password are all refused.
    let account = browser.get("/account").await;
    assert_eq!(account.status, 303, "{}", account.body);
    assert!(account.location.unwrap().starts_with("/login"));
    let (status, body) = srv.oauth().exchange_api_token(api_token, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{body}"
    );
    let (status, body) = srv
        .oauth()
        .refresh(seed.web_basic(), &refresh_token, None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    let page = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("This account is disabled"));
    // A wrong password learns nothing about the account.
    let page = session.get("/login").await;
    let page = session.sign_in(&page, &seed.email, "wrong-password").await;
    assert_eq!(page.status, 401);
    assert!(!page.body.contains("disabled"));

    // Enabled again, the API token and the password work; the authorization the refused
    // refresh ended stays ended, as after any refusal that revokes it.
    let (ok, _, stderr) = cli(
        &srv.db.url,
        &["user", "enable", "--email", &seed.email],
        None,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(srv.oauth().exchange_api_token(api_token, None).await.0, 200);
    let (status, _) = srv
        .oauth()
        .refresh(seed.web_basic(), &refresh_token, None)
        .await;
    assert_eq!(status, 400);
    let signed_in = srv
        .code_flow(&seed.email, &seed.web, WEB_REDIRECT, "openid", false)
        .await;
    assert!(signed_in["access_token"].is_string(), "{signed_in}");
}

async fn a_flush_of_last_uses_cut_off_midway_loses_none(backend: Backend) {
    use grantor_core::store::ApiTokenStore;
    use std::future::Future;
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = create_with_cli(&srv, &seed, &["trades:read"]).await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // A store of its own: the server's poll must not flush in its place.
    let store = grantor_store::Store::connect(&srv.db.url).await.unwrap();
    // Both tokens used, and a flush polled once and dropped while it waits on the database
    // (as the poll's deadline drops it): its first update may have gone out, the second not.
    // SQLite may finish within that one poll; then the tokens are used again and it is tried
    // again.
    let mut used_at = SystemClock.now();
    for attempt in 0.. {
        assert!(attempt < 100, "no flush could be cut off while it waited");
        used_at += 1;
        for id in &ids {
            store.touch_api_token(id, used_at).await.unwrap();
        }
        let mut flush = std::pin::pin!(store.flush_api_token_use());
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(flush.as_mut().poll(cx)));
        if first.await.is_pending() {
            break;
        }
    }
    store.flush_api_token_use().await.unwrap();
    let listed = listed_tokens(&srv, &seed.email).await;
    let last_uses: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["last_used_at"])
        .collect();
    assert_eq!(last_uses, [used_at, used_at], "{listed}");
}
