//! The server-to-server flow: an app added to an organization gets tokens with client
//! credentials; a resource server can verify them; introspection and revocation.

use crate::both_backends;
use crate::support::oauth::{self, verify_claims};
use crate::support::oauth_http::OAuthHttp;
use crate::support::{Backend, Seed, TRADING, TestServer, server_app};
use grantor_core::model::{Caller, ScopeDefinition};
use jsonwebtoken::Algorithm;
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use serde_json::Value;

both_backends!(
    oauth2_client_gets_a_token_that_verifies_against_jwks,
    requested_scopes_narrow_the_token_and_ungranted_ones_are_named,
    bad_client_credentials_get_401_with_a_challenge,
    an_app_not_yet_added_to_the_organization_is_told_so,
    unsupported_grants_and_malformed_bodies_get_oauth_errors,
    a_regenerated_secret_replaces_the_old_one_at_once,
    a_revoked_token_introspects_as_inactive,
    the_organization_parameter_picks_among_several,
    the_resource_parameter_narrows_the_audience,
    discovery_documents_name_absolute_endpoints,
    other_app_types_cannot_use_client_credentials,
);

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn oauth2_client(srv: &TestServer, id: &str, secret: &str, auth: AuthType) -> TokenClient {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(srv.url("/oauth2/token")).unwrap())
        .set_auth_type(auth)
}

/// Verifies an access token the way a resource server would ([`verify_claims`]); it is
/// signed with ES256.
async fn verify(srv: &TestServer, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    verify_claims(srv, token, audience).await
}

async fn oauth2_client_gets_a_token_that_verifies_against_jwks(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = oauth2_client(&srv, seed.client_id(), seed.secret(), auth);
        let token = client
            .exchange_client_credentials()
            .request_async(&OAuthHttp(&srv.http))
            .await
            .unwrap();
        assert_eq!(*token.token_type(), BasicTokenType::Bearer);
        assert_eq!(token.expires_in().unwrap().as_secs(), 900);
        assert!(
            token.refresh_token().is_none(),
            "client credentials never get refresh tokens"
        );
        let scopes: Vec<String> = token
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, ["trades:read", "trades:write"]);
        let claims = verify(&srv, token.access_token().secret(), TRADING).await;
        assert_eq!(claims["sub"], seed.client_id());
        assert_eq!(claims["client_id"], seed.client_id());
        assert_eq!(claims["org_id"], seed.org.id.as_str());
        assert_eq!(claims["scope"], "trades:read trades:write");
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    }
}

async fn requested_scopes_narrow_the_token_and_ungranted_ones_are_named(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let client = oauth2_client(&srv, seed.client_id(), seed.secret(), AuthType::BasicAuth);
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("trades:read".into()))
        .request_async(&OAuthHttp(&srv.http))
        .await
        .unwrap();
    let claims = verify(&srv, token.access_token().secret(), TRADING).await;
    assert_eq!(claims["scope"], "trades:read");

    let err = client
        .exchange_client_credentials()
        .add_scope(Scope::new("trades:read".into()))
        .add_scope(Scope::new("admin:everything".into()))
        .request_async(&OAuthHttp(&srv.http))
        .await
        .unwrap_err();
    let RequestTokenError::ServerResponse(err) = err else {
        panic!("expected an OAuth error, got {err:?}")
    };
    assert_eq!(*err.error(), BasicErrorResponseType::InvalidScope);
    assert!(
        err.error_description()
            .unwrap()
            .contains("admin:everything")
    );
}

async fn bad_client_credentials_get_401_with_a_challenge(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    type Case<'a> = (Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (Some((seed.client_id(), "gr_sec_wrong")), vec![]),
        (None, vec![("client_id", seed.client_id())]),
        (
            None,
            vec![("client_id", seed.client_id()), ("client_secret", "nope")],
        ),
        (Some(("app_unknown", "whatever")), vec![]),
        (None, vec![]),
    ];
    for (basic, extra) in cases {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(extra);
        let (status, headers, body) = srv.post_form("/oauth2/token", basic, &form).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Basic ") && challenge.contains("error=\"invalid_client\""),
            "{challenge}"
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
    // A secret for one app does not authenticate another.
    let other = srv.seed("globex").await;
    let (status, _) = srv
        .oauth()
        .client_credentials(other.client_id(), seed.secret(), &[])
        .await;
    assert_eq!(status, 401);
}

async fn an_app_not_yet_added_to_the_organization_is_told_so(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let fresh = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.org.id,
            server_app("new", &["trades:read"]),
        )
        .await
        .unwrap();
    let (status, body) = srv
        .oauth()
        .token(
            oauth::basic(&fresh),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("added"),
        "{body}"
    );
}

async fn unsupported_grants_and_malformed_bodies_get_oauth_errors(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let basic = seed.basic();
    let (status, body) = srv.oauth().token(basic, &[("grant_type", "magic")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = srv.oauth().token(basic, &[("scope", "trades:read")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = srv
        .client_credentials(&seed, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = srv
        .client_credentials(&seed, &[("scope", "bad\"scope")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Bodies no form parser would accept, and headers no client should send.
    let raw: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            None,
        ),
        (
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'%', b'z', 0x00],
            None,
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=%%%&&&===".to_vec(),
            None,
        ),
        (
            "application/x-www-form-urlencoded",
            vec![b'a'; 100_000],
            None,
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials".to_vec(),
            Some("Basic !!!notbase64"),
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials".to_vec(),
            Some("Bearer abc"),
        ),
        ("text/plain", Vec::new(), None),
    ];
    for (content_type, body, auth) in raw {
        let mut req = srv
            .http
            .post(srv.url("/oauth2/token"))
            .header("content-type", content_type)
            .body(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap();
        assert!((400..500).contains(&status), "{content_type}: {status}");
        assert!(json["error"].is_string(), "{json}");
    }
}

async fn a_regenerated_secret_replaces_the_old_one_at_once(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    assert_eq!(srv.client_credentials(&seed, &[]).await.0, 200);
    let regenerated = srv
        .state
        .manager
        .regenerate_secret(&Caller::operator(), None, seed.client_id(), 0)
        .await
        .unwrap();
    let new_secret = regenerated.client_secret.unwrap();
    assert_ne!(new_secret, seed.secret());
    assert_eq!(
        srv.client_credentials(&seed, &[]).await.0,
        401,
        "old secret must be refused at once"
    );
    let (status, _) = srv
        .oauth()
        .client_credentials(seed.client_id(), &new_secret, &[])
        .await;
    assert_eq!(status, 200);
}

async fn a_revoked_token_introspects_as_inactive(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let token = &srv.token_for(&seed, &[]).await;
    let oauth = srv.oauth();
    let creds = seed.basic();
    let (status, _, info) = srv
        .post_form("/oauth2/introspect", creds, &[("token", token)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], seed.client_id());
    assert_eq!(info["scope"], "trades:read trades:write");
    assert_eq!(info["org_id"], seed.org.id.as_str());

    // Another app cannot revoke it, and garbage revokes nothing but still answers 200.
    let other = srv.seed("globex").await;
    assert_eq!(oauth.revoke(other.basic(), token).await, 200);
    assert_eq!(oauth.introspect(creds, token).await["active"], true);
    assert_eq!(oauth.revoke(creds, "not-a-token").await, 200);

    assert_eq!(oauth.revoke(creds, token).await, 200);
    let (status, _, info) = srv
        .post_form("/oauth2/introspect", creds, &[("token", token)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(info, serde_json::json!({"active": false}));

    // Introspection itself needs client authentication.
    let (status, _, _) = srv
        .post_form("/oauth2/introspect", None, &[("token", token)])
        .await;
    assert_eq!(status, 401);
}

async fn the_organization_parameter_picks_among_several(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let other_org = srv
        .state
        .manager
        .create_organization(&Caller::operator(), "globex")
        .await
        .unwrap();
    // The scopes globex grants are those of its own Trading API.
    let globex_trading = srv.trading_api(&other_org).await;
    srv.state
        .manager
        .add_app_to_organization(
            &Caller::operator(),
            seed.client_id(),
            "globex",
            vec!["trades:read".into()],
        )
        .await
        .unwrap();
    let (status, body) = srv.client_credentials(&seed, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("organization")
    );

    let (status, body) = srv
        .client_credentials(&seed, &[("organization", "globex")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"], "trades:read",
        "globex granted only trades:read"
    );
    let claims = verify(
        &srv,
        body["access_token"].as_str().unwrap(),
        &globex_trading,
    )
    .await;
    assert_eq!(claims["org_id"], other_org.id.as_str());

    let (status, body) = srv
        .client_credentials(
            &seed,
            &[("organization", "globex"), ("scope", "trades:write")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = srv
        .client_credentials(&seed, &[("organization", &seed.org.id)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "trades:read trades:write");
    let (status, _) = srv
        .client_credentials(&seed, &[("organization", "initech")])
        .await;
    assert_eq!(status, 400);
}

async fn the_resource_parameter_narrows_the_audience(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let m = &srv.state.manager;
    let op = Caller::operator();
    let seed = srv.seed("acme").await;
    m.create_resource_server(
        &op,
        "acme",
        "https://reports.example.com",
        "Reports",
        vec![ScopeDefinition {
            name: "reports:read".into(),
            description: "Read reports".into(),
        }],
    )
    .await
    .unwrap();
    let app = srv
        .added_app("acme", server_app("both", &["trades:read", "reports:read"]))
        .await;
    let seed = Seed { org: seed.org, app };

    let (_, body) = srv.client_credentials(&seed, &[]).await;
    let claims = verify(&srv, body["access_token"].as_str().unwrap(), TRADING).await;
    let mut aud: Vec<&str> = claims["aud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    aud.sort();
    assert_eq!(aud, ["https://reports.example.com", TRADING]);

    let (status, body) = srv
        .client_credentials(&seed, &[("resource", TRADING)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "trades:read");
    let claims = verify(&srv, body["access_token"].as_str().unwrap(), TRADING).await;
    assert_eq!(claims["aud"], TRADING);

    for bad in [
        "https://unknown.example.com",
        "not a uri",
        "https://trading.example.com#frag",
    ] {
        let (status, body) = srv.client_credentials(&seed, &[("resource", bad)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{bad}"
        );
    }
}

async fn discovery_documents_name_absolute_endpoints(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let doc = srv.get_json(path).await;
        assert_eq!(doc["issuer"], srv.issuer.as_str());
        for key in [
            "token_endpoint",
            "jwks_uri",
            "introspection_endpoint",
            "revocation_endpoint",
        ] {
            let url = doc[key].as_str().unwrap();
            assert!(url.starts_with(&srv.issuer), "{key}: {url}");
            let status = srv.http.get(url).send().await.unwrap().status().as_u16();
            assert_ne!(status, 404, "{key} must exist");
        }
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&"client_credentials".into())
        );
    }
    let jwks = srv.get_json("/oauth2/jwks").await;
    let keys = jwks["keys"].as_array().unwrap();
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    kids.dedup();
    assert_eq!(kids.len(), keys.len(), "kids are unique");
    assert!(keys.iter().any(|k| k["alg"] == "ES256") && keys.iter().any(|k| k["alg"] == "RS256"));
    assert!(
        keys.iter()
            .all(|k| k["use"] == "sig" && k.get("d").is_none()),
        "no private parts"
    );
}

async fn other_app_types_cannot_use_client_credentials(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let web = grantor_core::manage::NewApp::new(grantor_core::model::AppType::Web, "site")
        .redirect_uris(["https://site.example.com/cb"])
        .scopes(["trades:read"]);
    let web = srv
        .state
        .manager
        .create_app(&Caller::operator(), &seed.org.id, web)
        .await
        .unwrap();
    let (status, body) = srv
        .oauth()
        .token(oauth::basic(&web), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}
