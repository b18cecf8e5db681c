//! Passkeys in headless Chromium with its virtual authenticator (WebDriver's WebAuthn
//! extension, as a platform authenticator with resident keys and user verification): one is
//! added at `/account/security`, signs in alone from `/login` (no email typed), serves as the
//! second step after the password, and is removed; keyboard only where a person would act,
//! each changed page checked with axe-core at 1280 and 360 px. WebAuthn needs a domain, not
//! an IP address, so the server's issuer is `http://localhost:<port>`.

use crate::both_backends;
use crate::support::chrome::{Chrome, DESKTOP};
use crate::support::oauth::{self, code_in, decode_payload};
use crate::support::{Backend, PASSWORD, SignInSeed, TestServer, WEB_REDIRECT};
use axum::http::Method;
use fantoccini::Locator;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use grantor_core::SystemClock;
use grantor_core::store::{PasskeyStore, UserStore};
use serde_json::json;
use std::sync::Arc;

const PHONE: (u32, u32) = (360, 800);

/// `POST /session/{id}/webauthn/authenticator`: a virtual authenticator for this session.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/authenticator"))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (Method::POST, Some(body.to_string()))
    }
}

async fn accessible(chrome: &Chrome, page: &str) {
    for size in [DESKTOP, PHONE] {
        chrome.resize(size).await;
        let found = chrome.axe().await;
        assert!(found.is_empty(), "{page} at {size:?}: {found:#?}");
        chrome.assert_fits(page).await;
    }
    chrome.resize(DESKTOP).await;
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn sign_out(chrome: &Chrome, srv: &TestServer) {
    chrome.goto(&srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    chrome.click_button("Sign out").await;
    chrome.expect_heading("You are signed out").await;
}

/// The `amr` of the ID token for the code the browser was just redirected to the web app with.
async fn amr_at_redirect(
    chrome: &Chrome,
    srv: &TestServer,
    seed: &SignInSeed,
) -> serde_json::Value {
    let url = chrome.wait_for_url(WEB_REDIRECT).await;
    let code = code_in(url.as_str());
    let (status, body) = srv
        .oauth()
        .exchange_code(seed.web_basic(), &code, WEB_REDIRECT)
        .await;
    assert_eq!(status, 200, "{body}");
    decode_payload(body["id_token"].as_str().unwrap())["amr"].clone()
}

async fn passkeys_register_sign_in_alone_and_as_second_step(backend: Backend) {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    chrome
        .client
        .issue_cmd(AddVirtualAuthenticator)
        .await
        .expect("chromedriver adds a virtual authenticator");
    let port = free_port();
    let clock = Arc::new(SystemClock);
    let srv = TestServer::spawn_with(backend, clock, |c| {
        c.listen = format!("127.0.0.1:{port}");
        c.issuer = Some(format!("http://localhost:{port}"));
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    let user = srv
        .state
        .store
        .user_by_email(&seed.email)
        .await
        .unwrap()
        .unwrap();

    // Added at the account page, by name, with the keyboard.
    chrome.goto(&srv.url("/account/security")).await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Sign-in security").await;
    chrome
        .wait_for(Locator::Css("form[data-passkey]:not([hidden])"))
        .await;
    accessible(&chrome, "security, no passkey").await;
    chrome.tab_to("input#passkey-name", false).await;
    chrome.type_here("Laptop").await;
    chrome.press(Key::Enter).await;
    let notice = chrome.wait_for(Locator::Css("p.notice")).await;
    assert_eq!(
        notice.text().await.unwrap(),
        "The passkey was added. You can sign in with it now."
    );
    assert!(chrome.source().await.contains("<strong>Laptop</strong>"));
    accessible(&chrome, "security, one passkey").await;
    let stored = srv.state.store.passkeys(&user.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Laptop");

    // The password grant cannot carry a second step, so it is refused now.
    let app = srv.password_app(&seed).await;
    let (status, body) = srv
        .oauth()
        .password(oauth::basic(&app), &seed.email, PASSWORD, &[])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Alone, from the sign-in page of an app: no email, no password.
    sign_out(&chrome, &srv).await;
    let authorize = srv.url(&seed.web_authorize_url("scope=openid&state=x&nonce=n"));
    chrome.goto(&authorize).await;
    chrome.expect_heading("Sign in").await;
    chrome
        .wait_for(Locator::Css("form[data-passkey]:not([hidden])"))
        .await;
    accessible(&chrome, "sign-in with passkey").await;
    chrome
        .tab_to("button \"Sign in with a passkey\"", false)
        .await;
    chrome.press(Key::Enter).await;
    chrome.tab_to("button \"Allow\"", false).await;
    chrome.press(Key::Enter).await;
    let amr = amr_at_redirect(&chrome, &srv, &seed).await;
    assert_eq!(
        amr,
        json!(["hwk", "mfa"]),
        "a device-bound passkey, user-verified"
    );
    chrome.goto(&srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    assert!(chrome.source().await.contains(&seed.email));

    // After the password, the passkey is the second step.
    sign_out(&chrome, &srv).await;
    chrome.goto(&authorize).await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Use your passkey").await;
    chrome
        .wait_for(Locator::Css("form[data-passkey]:not([hidden])"))
        .await;
    accessible(&chrome, "second step with passkey").await;
    chrome.tab_to("button \"Use a passkey\"", false).await;
    chrome.press(Key::Enter).await;
    let amr = amr_at_redirect(&chrome, &srv, &seed).await;
    assert_eq!(amr, json!(["pwd", "hwk", "mfa"]));
    chrome.goto(&srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    let used = srv.state.store.passkeys(&user.id).await.unwrap();
    assert!(used[0].last_used_at.is_some());

    // Removed with the password; the password alone signs in again.
    chrome.goto(&srv.url("/account/security")).await;
    chrome.expect_heading("Sign-in security").await;
    chrome.tab_to("input#remove-passkey-password", false).await;
    chrome.type_here(PASSWORD).await;
    chrome.press(Key::Enter).await;
    let notice = chrome.wait_for(Locator::Css("p.notice")).await;
    assert_eq!(notice.text().await.unwrap(), "The passkey was removed.");
    assert!(srv.state.store.passkeys(&user.id).await.unwrap().is_empty());
    sign_out(&chrome, &srv).await;
    chrome.goto(&srv.url("/account")).await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Your account").await;
}

/// Answers no authenticator made: a forged one, one for a challenge used up, one without the
/// page's challenge. Each is refused with a sentence and a 4xx, never a 5xx, and signs no one in.
async fn forged_passkey_answers_are_refused(backend: Backend) {
    let port = free_port();
    let srv = TestServer::spawn_with(backend, Arc::new(SystemClock), |c| {
        c.listen = format!("127.0.0.1:{port}");
        c.issuer = Some(format!("http://localhost:{port}"));
    })
    .await;
    let mut browser = srv.http_session();
    let login = browser.get("/login").await;
    let csrf = login.field("csrf").unwrap();
    let challenge = login.field("challenge").expect("a passkey challenge");
    let forged = [
        ("csrf", csrf.as_str()),
        ("return_to", "/account"),
        ("challenge", challenge.as_str()),
        ("credential_id", "AAAA"),
        ("client_data", "e30"),
        ("authenticator_data", "AAAA"),
        ("signature", "AAAA"),
        ("user_handle", ""),
    ];
    let answer = browser.post("/login/passkey", &forged).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body.contains("That passkey could not sign you in."));
    let mut no_challenge = forged;
    no_challenge[2] = ("challenge", "not-ours");
    let answer = browser.post("/login/passkey", &no_challenge).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let mut no_csrf = forged;
    no_csrf[0] = ("csrf", "");
    let answer = browser.post("/login/passkey", &no_csrf).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let account = browser.get("/account").await;
    assert_eq!(account.status, 303, "still signed out");
}

both_backends!(
    passkeys_register_sign_in_alone_and_as_second_step,
    forged_passkey_answers_are_refused
);
