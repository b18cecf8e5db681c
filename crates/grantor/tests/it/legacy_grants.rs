//! The legacy grants (resource owner password and implicit): off unless enabled per app, and
//! then usable through a real client library.

use crate::both_backends;
use crate::support::oauth::{decode_payload, enc, redirect_params};
use crate::support::oauth_http::OAuthHttp;
use crate::support::{Backend, PASSWORD, TestServer, WEB_REDIRECT, user_app};
use grantor_core::model::{AppType, Caller, LegacyGrant};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ResourceOwnerPassword, ResourceOwnerUsername};
use openidconnect::{OAuth2TokenResponse, TokenUrl};

both_backends!(
    oauth2_client_uses_the_password_grant_and_refresh_rotation,
    implicit_and_password_grants_only_when_enabled,
);

async fn oauth2_client_uses_the_password_grant_and_refresh_rotation(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let app = srv.password_app(&seed).await;
    let client = BasicClient::new(oauth2::ClientId::new(app.app.client_id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(
            app.client_secret.clone().unwrap(),
        ))
        .set_token_uri(TokenUrl::new(srv.url("/oauth2/token")).unwrap())
        .set_auth_type(AuthType::BasicAuth);
    let username = ResourceOwnerUsername::new(seed.email.clone());
    let password = ResourceOwnerPassword::new(PASSWORD.into());
    let token = client
        .exchange_password(&username, &password)
        .add_scope(oauth2::Scope::new("trades:read".into()))
        .request_async(&OAuthHttp(&srv.http))
        .await
        .expect("password grant succeeds");
    assert_eq!(token.scopes().unwrap()[0].as_str(), "trades:read");
    let refresh = token
        .refresh_token()
        .expect("password-grant apps get refresh tokens")
        .clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&OAuthHttp(&srv.http))
        .await
        .expect("refresh succeeds");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );

    let wrong = ResourceOwnerPassword::new("not the password".into());
    let err = client
        .exchange_password(&username, &wrong)
        .request_async(&OAuthHttp(&srv.http))
        .await
        .unwrap_err();
    let oauth2::RequestTokenError::ServerResponse(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        *err.error(),
        oauth2::basic::BasicErrorResponseType::InvalidGrant
    );
}

async fn implicit_and_password_grants_only_when_enabled(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let url = |id: &str| {
        format!(
            "/oauth2/authorize?response_type=token&client_id={id}&redirect_uri={}&scope=trades:read&state=i",
            enc(WEB_REDIRECT)
        )
    };
    let page = session.get(&url(&seed.web.app.client_id)).await;
    let location = page.location.unwrap();
    assert!(location.contains('#'), "implicit errors go in the fragment");
    assert_eq!(redirect_params(&location)["error"], "unauthorized_client");

    let implicit = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.seed.org.id,
            user_app(
                AppType::Web,
                "Old SPA",
                WEB_REDIRECT,
                &[LegacyGrant::Implicit],
            ),
        )
        .await
        .unwrap();
    let location = session
        .authorize(
            &url(&implicit.app.client_id),
            &seed.email,
            PASSWORD,
            &["trades:read"],
        )
        .await;
    let (_, fragment) = location.split_once('#').expect("token in the fragment");
    assert!(!location.split('#').next().unwrap().contains("access_token"));
    let params = redirect_params(&location);
    assert_eq!(params["token_type"], "Bearer");
    assert_eq!(params["scope"], "trades:read");
    assert_eq!(params["state"], "i");
    assert!(
        !params.contains_key("refresh_token"),
        "implicit never gets a refresh token: {fragment}"
    );
    assert_eq!(
        decode_payload(&params["access_token"])["aud"],
        crate::support::TRADING
    );

    let (status, body) = srv
        .oauth()
        .password(seed.web_basic(), &seed.email, PASSWORD, &[])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["grantor_legacy_grant_types"],
        serde_json::json!(["password", "implicit"])
    );
}
