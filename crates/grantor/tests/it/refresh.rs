//! Refresh tokens: rotation, a reused token revoking its family, narrowing but never
//! widening, bound to their app, and following an app's narrowed access.

use crate::both_backends;
use crate::support::oauth;
use crate::support::{Backend, TestServer, WEB_REDIRECT, user_app};
use grantor_core::manage::AppChanges;
use grantor_core::model::{AppType, Caller, Role};

both_backends!(
    reusing_a_rotated_refresh_token_revokes_the_family,
    refresh_can_narrow_but_not_widen_and_is_bound_to_its_app,
    refresh_follows_narrowed_access,
);

async fn reusing_a_rotated_refresh_token_revokes_the_family(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let tokens = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read",
            false,
        )
        .await;
    let basic = seed.web_basic();
    let first = tokens["refresh_token"].as_str().unwrap();
    assert!(first.starts_with("gr_rt_"));
    let (status, rotated) = srv.oauth().refresh(basic, first, None).await;
    assert_eq!(status, 200);
    let second = rotated["refresh_token"].as_str().unwrap();
    let (status, body) = srv.oauth().refresh(basic, first, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = srv.oauth().refresh(basic, second, None).await;
    assert_eq!(status, 400, "the newest token of the family is revoked too");
    let info = srv
        .oauth()
        .introspect(basic, rotated["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["active"], false);
}

async fn refresh_can_narrow_but_not_widen_and_is_bound_to_its_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let tokens = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read",
            false,
        )
        .await;
    let basic = seed.web_basic();
    let rt = tokens["refresh_token"].as_str().unwrap();
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
    let (status, body) = srv.oauth().refresh(oauth::basic(&other), rt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = srv
        .oauth()
        .refresh(basic, rt, Some("trades:read trades:write"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = srv.oauth().refresh(basic, rt, Some("trades:read")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "trades:read");
    // The narrowed refresh still carries the original grant: a later refresh may get it all back.
    let (_, body) = srv
        .oauth()
        .refresh(basic, body["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(body["scope"], "openid trades:read");
}

async fn refresh_follows_narrowed_access(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let m = &srv.state.manager;
    let op = Caller::operator();
    let web = seed.web.app.client_id.clone();

    // The app's own scopes shrink.
    let tokens = srv
        .code_flow(
            &seed.email,
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read trades:write",
            false,
        )
        .await;
    assert_eq!(tokens["scope"], "openid trades:read trades:write");
    m.update_app(
        &op,
        None,
        &web,
        AppChanges {
            scopes: Some(vec!["openid".into(), "trades:read".into()]),
            ..AppChanges::default()
        },
    )
    .await
    .unwrap();
    let (status, body) = srv
        .oauth()
        .refresh(
            seed.web_basic(),
            tokens["refresh_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid trades:read");
    // Asking for the removed scope again does not bring it back.
    let (status, body) = srv
        .oauth()
        .refresh(
            seed.web_basic(),
            body["refresh_token"].as_str().unwrap(),
            Some("trades:write"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Another organization narrows what it let the app have, then removes it.
    m.update_app(
        &op,
        None,
        &web,
        AppChanges {
            scopes: Some(vec![
                "openid".into(),
                "trades:read".into(),
                "trades:write".into(),
            ]),
            ..AppChanges::default()
        },
    )
    .await
    .unwrap();
    let beta = m.create_organization(&op, "beta").await.unwrap();
    srv.trading_api(&beta).await;
    srv.member(&beta.id, "bob@beta.example", Role::Member).await;
    m.add_app_to_organization(
        &op,
        &web,
        &beta.id,
        vec!["trades:read".into(), "trades:write".into()],
    )
    .await
    .unwrap();
    let tokens = srv
        .code_flow(
            "bob@beta.example",
            &seed.web,
            WEB_REDIRECT,
            "openid trades:read trades:write",
            false,
        )
        .await;
    assert_eq!(tokens["scope"], "openid trades:read trades:write");
    m.add_app_to_organization(&op, &web, &beta.id, vec!["trades:read".into()])
        .await
        .unwrap();
    let (status, body) = srv
        .oauth()
        .refresh(
            seed.web_basic(),
            tokens["refresh_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid trades:read");
    m.remove_app_from_organization(&op, &web, &beta.id)
        .await
        .unwrap();
    let (status, body) = srv
        .oauth()
        .refresh(
            seed.web_basic(),
            body["refresh_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
