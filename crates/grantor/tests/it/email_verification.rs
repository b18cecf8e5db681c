//! Verified emails (issue 20, point 4) through a real SMTP receiver: an account created by an
//! administrator gets a mailed link, and its ID tokens (read by an OpenID client library) and
//! userinfo say `email_verified: false` until the link is used, `true` after; the link works
//! once; the user can ask for another from /account; an invitation mailed by the API proves
//! the address of the account its acceptance creates, one handed over as a link does not.

use crate::both_backends;
use crate::password_reset::spawn;
use crate::support::api::PLATFORM_ADMIN;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth_http::OAuthHttp;
use crate::support::smtp::{Received, SmtpServer};
use crate::support::{Backend, NATIVE_REDIRECT, PASSWORD, SignInSeed, TestServer, cli};
use grantor_core::SystemClock;
use grantor_core::model::Role;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};
use std::time::Duration;

both_backends!(
    owners_mail_invitations_and_require_a_second_factor_from_the_console,
    a_mailed_link_verifies_the_address_once_and_id_tokens_say_so,
    a_user_asks_for_a_new_link_from_their_account,
    an_invitation_mailed_by_the_api_proves_the_address_a_handed_one_does_not,
);

const WAIT: Duration = Duration::from_secs(10);

/// The path of the link in `mail`, on `srv`, starting with `prefix`.
fn path_of(srv: &TestServer, mail: &Received, prefix: &str) -> String {
    let link = mail.link();
    let path = link
        .strip_prefix(&srv.issuer)
        .unwrap_or_else(|| panic!("{link} is not on {}", srv.issuer))
        .to_string();
    assert!(path.starts_with(prefix), "{path}");
    path
}

/// Signs `email` in to the seed's native app through an OpenID client library; returns
/// `email_verified` from the verified ID token and from userinfo.
async fn email_verified(srv: &TestServer, seed: &SignInSeed, email: &str) -> (bool, bool) {
    let http = OAuthHttp(&srv.http);
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(srv.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let redirect = NATIVE_REDIRECT.replace("127.0.0.1", "127.0.0.1:43211");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(seed.native.app.client_id.clone()),
        None,
    )
    .set_redirect_uri(RedirectUrl::new(redirect).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut browser = srv.http_session();
    let location = browser
        .authorize(url.as_str(), email, PASSWORD, &["openid", "email"])
        .await;
    let code = crate::support::oauth::code_in(&location);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = token
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies")
        .clone();
    assert_eq!(claims.email().map(|e| e.as_str()), Some(email));
    let userinfo: Value = srv
        .http
        .get(srv.url("/oauth2/userinfo"))
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        claims.email_verified().expect("email_verified is stated"),
        userinfo["email_verified"].as_bool().expect("{userinfo}"),
    )
}

/// Opens a verification link's page and presses its button, in `browser`.
async fn verify(browser: &mut HttpSession, path: &str) -> Page {
    let page = browser.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Verify my email"), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    browser.post(path, &[("csrf", &csrf)]).await
}

async fn a_mailed_link_verifies_the_address_once_and_id_tokens_say_so(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.platform_admin().await;
    srv.member(&seed.seed.org.id, PLATFORM_ADMIN, Role::Member)
        .await;
    let admin = srv.api_as("acme", PLATFORM_ADMIN, &["grantor:orgs"]).await;
    let created = admin
        .create_user(json!({"email": "neo@acme.example", "password": PASSWORD}))
        .await
        .expect(201);
    assert_eq!(created["email_verified"], false, "{created}");
    let mail = smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.header("To").as_deref(), Some("neo@acme.example"));
    let path = path_of(&srv, &mail, "/verify-email/gr_ev_");
    srv.member(&seed.seed.org.id, "neo@acme.example", Role::Member)
        .await;
    assert_eq!(
        email_verified(&srv, &seed, "neo@acme.example").await,
        (false, false)
    );

    // Opening the link changes nothing (mail scanners open links); the button does.
    let mut browser = srv.http_session();
    browser.get(&path).await;
    assert_eq!(
        email_verified(&srv, &seed, "neo@acme.example").await,
        (false, false)
    );
    let done = verify(&mut browser, &path).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("is verified"), "{}", done.body);
    assert_eq!(
        email_verified(&srv, &seed, "neo@acme.example").await,
        (true, true)
    );
    let again = verify(&mut browser, &path).await;
    assert_eq!(again.status, 410, "single use: {}", again.body);
    let forged = browser.post(&path, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);

    // The operator can vouch for (or withdraw) an address too.
    let (ok, out, err) = cli(
        &srv.db.url,
        &["user", "verify-email", "--email", &seed.email],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out["email_verified"], true);
    assert_eq!(email_verified(&srv, &seed, &seed.email).await, (true, true));
}

async fn a_user_asks_for_a_new_link_from_their_account(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let (mut browser, account) = crate::passwords::signed_in(&srv, &seed.email, PASSWORD).await;
    assert!(
        account.body.contains("Email not verified"),
        "{}",
        account.body
    );
    let csrf = account.field("csrf").unwrap();
    for _ in 0..3 {
        let sent = browser
            .post("/account/verify-email", &[("csrf", &csrf)])
            .await;
        assert_eq!(sent.location.as_deref(), Some("/account?verify=sent"));
    }
    let throttled = browser
        .post("/account/verify-email", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        throttled.location.as_deref(),
        Some("/account?verify=throttled")
    );
    let mails = smtp.wait_for(3, WAIT).await;
    let latest = path_of(&srv, mails.last().unwrap(), "/verify-email/gr_ev_");
    let first = path_of(&srv, &mails[0], "/verify-email/gr_ev_");
    let done = verify(&mut browser, &latest).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        verify(&mut browser, &first).await.status,
        410,
        "the other links close with it"
    );
    let account = browser.get("/account").await;
    assert!(account.body.contains("(verified)"), "{}", account.body);
    assert!(!account.body.contains("Email not verified"));
}

async fn an_invitation_mailed_by_the_api_proves_the_address_a_handed_one_does_not(
    backend: Backend,
) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    let owner = srv
        .api_as("acme", "owner@acme.example", &["grantor:members"])
        .await;
    let path = format!("/api/v1/orgs/{}/invitations", seed.seed.org.id);
    let mailed = owner
        .post(
            &path,
            json!({"email": "trinity@acme.example", "role": "member", "send_email": true}),
        )
        .await
        .expect(201);
    assert_eq!(mailed["mailed"], true, "{mailed}");
    assert!(mailed.get("link").is_none(), "the link went by mail only");
    let handed = owner
        .post(
            &path,
            json!({"email": "morpheus@acme.example", "role": "member"}),
        )
        .await
        .expect(201);
    assert_eq!(handed["mailed"], false);
    let handed_link = handed["link"].as_str().unwrap().to_string();

    let mail = smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.header("To").as_deref(), Some("trinity@acme.example"));
    assert!(mail.body().contains("acme"), "{}", mail.body());
    let invitation = path_of(&srv, &mail, "/invitations/gr_inv_");

    for (link, email) in [
        (invitation, "trinity@acme.example"),
        (
            handed_link.strip_prefix(&srv.issuer).unwrap().to_string(),
            "morpheus@acme.example",
        ),
    ] {
        let mut browser = srv.http_session();
        let page = browser.get(&link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.field("csrf").unwrap();
        let joined = browser
            .post(
                &link,
                &[
                    ("csrf", &csrf),
                    ("name", "New One"),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                ],
            )
            .await;
        assert_eq!(joined.status, 303, "{email}: {}", joined.body);
    }
    assert_eq!(
        email_verified(&srv, &seed, "trinity@acme.example").await,
        (true, true)
    );
    assert_eq!(
        email_verified(&srv, &seed, "morpheus@acme.example").await,
        (false, false)
    );
    // The handed-over invitation's new account is mailed a verification link.
    let mails = smtp.wait_for(2, WAIT).await;
    assert_eq!(
        mails[1].header("To").as_deref(),
        Some("morpheus@acme.example")
    );
    path_of(&srv, &mails[1], "/verify-email/gr_ev_");

    // Without mail (no smtp_url, and an issuer that is no development loopback), asking to
    // send one is refused, saying why.
    let plain = TestServer::spawn_with(backend, std::sync::Arc::new(SystemClock), |c| {
        c.issuer = Some("https://id.example.com".into());
    })
    .await;
    let seed = plain.seed_sign_in("acme").await;
    plain
        .member(&seed.seed.org.id, "owner@acme.example", Role::Owner)
        .await;
    // The issuer names no host here: requests go to the address the server listens on.
    let base = format!("http://{}", plain.address);
    let (_, api_token) = plain
        .state
        .manager
        .create_api_token(
            &grantor_core::model::Caller::operator(),
            "acme",
            "owner@acme.example",
            grantor_core::manage::NewApiToken {
                name: "test".into(),
                scopes: vec!["grantor:members".into()],
                expires_in: None,
            },
        )
        .await
        .unwrap();
    let (status, token) = crate::support::oauth::OAuth::at(&plain.http, &base)
        .exchange_api_token(&api_token, None)
        .await;
    assert_eq!(status, 200, "{token}");
    let refused = plain
        .http
        .post(format!(
            "{base}/api/v1/orgs/{}/invitations",
            seed.seed.org.id
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({"email": "x@acme.example", "role": "member", "send_email": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "send_email", "{problem}");
}

async fn owners_mail_invitations_and_require_a_second_factor_from_the_console(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let org = seed.seed.org.id.clone();
    srv.member(&org, "owner@acme.example", Role::Owner).await;
    let (mut browser, _) = crate::passwords::signed_in(&srv, "owner@acme.example", PASSWORD).await;
    let members = format!("/console/orgs/{org}/members");
    let page = browser.get(&members).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Mail the link to this address"));
    assert!(page.body.contains("<th scope=\"col\">Second factor</th>"));
    let csrf = page.field("csrf").unwrap();
    let once = page.field("once").unwrap();
    let mailed = browser
        .post(
            &members,
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("email", "tank@acme.example"),
                ("role", "member"),
                ("send_email", "yes"),
            ],
        )
        .await;
    assert_eq!(
        mailed.location.as_deref(),
        Some(format!("{members}?done=mailed").as_str())
    );
    let mail = smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.header("To").as_deref(), Some("tank@acme.example"));
    path_of(&srv, &mail, "/invitations/gr_inv_");

    let on = browser
        .post(
            &format!("{members}/second-factor"),
            &[("csrf", &csrf), ("required", "yes")],
        )
        .await;
    assert_eq!(
        on.location.as_deref(),
        Some(format!("{members}?done=required").as_str())
    );
    let org_now = srv.state.manager.organization(&org).await.unwrap();
    assert!(org_now.require_second_factor);
    // The owner's own password-only session is now led to set up a factor.
    let gated = browser.get(&members).await;
    assert!(
        gated
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/account/security?required=acme")),
        "{:?}",
        gated.location
    );
}
