//! Browser tests: the sign-in and approval pages in headless Chromium over WebDriver.
//!
//! Each test starts its own Chromium ([`Chrome::launch`]), and a tiny local server standing
//! in for the app at its redirect URI, so the browser really lands there. Without
//! chromedriver or Chromium the tests say so and pass, unless `CI` is set: there a missing
//! browser is a failure. SQLite only: what is under test here is the pages, not the storage.

use crate::support::chrome::{Chrome, DESKTOP, describe};
use crate::support::oauth::{authorize_url, enc, verify_claims};
use crate::support::{self, Backend, TRADING, TestServer};
use fantoccini::Locator;
use fantoccini::key::Key;
use grantor_core::model::{AppType, Caller, Role};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PHONE: (u32, u32) = (375, 812);

/// A stand-in for the app: answers "ok" to every request on a loopback port. Returns its
/// callback URI.
async fn app_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
                          Connection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/callback")
}

/// A server with the Acme seed and a web app whose redirect URI is a live local page.
struct Flow {
    srv: TestServer,
    org_id: String,
    email: String,
    client_id: String,
    secret: String,
    redirect: String,
}

impl Flow {
    async fn start() -> Flow {
        let srv = TestServer::spawn(Backend::Sqlite).await;
        let seed = srv.seed_sign_in("acme").await;
        let redirect = app_server().await;
        let app = srv
            .state
            .manager
            .create_app(
                &Caller::operator(),
                &seed.seed.org.id,
                support::user_app(AppType::Web, "Trading web", &redirect, &[]),
            )
            .await
            .unwrap();
        Flow {
            org_id: seed.seed.org.id.clone(),
            email: seed.email,
            client_id: app.app.client_id,
            secret: app.client_secret.unwrap(),
            redirect,
            srv,
        }
    }

    fn authorize_url(&self, state: &str) -> String {
        let scope = enc("openid trades:read trades:write");
        let more = format!("scope={scope}&state={}", enc(state));
        self.srv
            .url(&authorize_url(&self.client_id, &self.redirect, &more))
    }

    /// The parameters the app received, checking `state` and `iss` on the way.
    fn callback(&self, url: &url::Url, state: &str) -> BTreeMap<String, String> {
        let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(params.get("state").map(String::as_str), Some(state));
        assert_eq!(params.get("iss"), Some(&self.srv.issuer));
        params
    }

    /// Exchanges a code as the app would; returns the token response and the verified
    /// access-token claims.
    async fn exchange(&self, code: &str) -> (Value, Value) {
        let (status, body) = self
            .srv
            .oauth()
            .exchange_code(Some((&self.client_id, &self.secret)), code, &self.redirect)
            .await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let claims = verify_claims(&self.srv, token, TRADING).await;
        (body, claims)
    }
}

fn scopes(value: &Value) -> Vec<&str> {
    value.as_str().unwrap_or_default().split(' ').collect()
}

/// Unchecking a permission on the approval page leaves it out of the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_fewer_permissions_leaves_them_out_of_the_token() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    chrome.goto(&flow.authorize_url("s-1 /+?")).await;
    chrome.wait_for_url(&flow.srv.url("/login")).await;
    chrome.sign_in(&flow.email, support::PASSWORD).await;

    chrome
        .expect_heading("Trading web wants to access your account")
        .await;
    let read = chrome.checkbox("Read trades").await;
    let write = chrome.checkbox("Place orders").await;
    assert!(read.is_selected().await.unwrap());
    assert!(
        write.is_selected().await.unwrap(),
        "permissions start checked"
    );
    write.click().await.unwrap();
    assert!(!write.is_selected().await.unwrap());
    chrome.button("Allow").await.click().await.unwrap();

    let url = chrome.wait_for_url(&flow.redirect).await;
    let params = flow.callback(&url, "s-1 /+?");
    assert!(!params.contains_key("error"), "{url}");
    let (body, claims) = flow.exchange(&params["code"]).await;
    let granted = scopes(&body["scope"]);
    assert!(granted.contains(&"trades:read"), "{body}");
    assert!(!granted.contains(&"trades:write"), "{body}");
    let in_token = scopes(&claims["scope"]);
    assert!(in_token.contains(&"trades:read"), "{claims}");
    assert!(!in_token.contains(&"trades:write"), "{claims}");
    assert_eq!(claims["org_id"], json!(flow.org_id));
}

/// Signing in and approving work with the keyboard alone, in a sensible focus order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_approval_work_with_the_keyboard_alone() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    chrome.goto(&flow.authorize_url("kbd")).await;
    chrome.expect_heading("Sign in").await;

    // The email field has the focus on arrival; Tab moves to the password, then the button.
    assert_eq!(describe(&chrome.field("Email").await).await, "input#email");
    assert_eq!(
        chrome.focused().await,
        "input#email",
        "focus starts on the email field"
    );
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(&flow.email)
        .await
        .unwrap();
    chrome.press(Key::Tab).await;
    assert_eq!(chrome.focused().await, "input#password");
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(support::PASSWORD)
        .await
        .unwrap();
    chrome.press(Key::Tab).await;
    assert_eq!(chrome.focused().await, "button \"Sign in\"");
    chrome.press(Key::Enter).await;

    // The approval page: Tab through it from the top, unchecking "Place orders" with Space,
    // until "Allow" has the focus.
    chrome
        .expect_heading("Trading web wants to access your account")
        .await;
    let read = describe(&chrome.checkbox("Read trades").await).await;
    let write_box = chrome.checkbox("Place orders").await;
    let write = describe(&write_box).await;
    let mut order = Vec::new();
    for _ in 0..10 {
        chrome.press(Key::Tab).await;
        let focused = chrome.focused().await;
        if focused == write {
            chrome.press(Key::Space).await;
        }
        let done = focused == "button \"Allow\"";
        order.push(focused);
        if done {
            break;
        }
    }
    assert_eq!(order, [read, write, "button \"Allow\"".to_string()]);
    assert!(!write_box.is_selected().await.unwrap());
    chrome.press(Key::Enter).await;

    let url = chrome.wait_for_url(&flow.redirect).await;
    let params = flow.callback(&url, "kbd");
    let (body, _) = flow.exchange(&params["code"]).await;
    assert!(scopes(&body["scope"]).contains(&"trades:read"), "{body}");
    assert!(!scopes(&body["scope"]).contains(&"trades:write"), "{body}");
}

/// A wrong password is reported next to the fields, to screen readers too, and signs no one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_reported_next_to_the_field() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    chrome.goto(&flow.authorize_url("wrong")).await;
    chrome.sign_in(&flow.email, "not the password").await;

    let alert = chrome.wait_for(Locator::Css("[role=alert]")).await;
    assert_eq!(
        alert.text().await.unwrap(),
        "The email or password is incorrect."
    );
    chrome.expect_heading("Sign in").await;
    assert!(
        chrome
            .url()
            .await
            .as_str()
            .starts_with(&flow.srv.url("/login"))
    );
    let alert_id = alert.attr("id").await.unwrap().unwrap();
    for label in ["Email", "Password"] {
        let field = chrome.field(label).await;
        assert_eq!(
            field.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true"),
            "{label}"
        );
        assert_eq!(
            field.attr("aria-describedby").await.unwrap(),
            Some(alert_id.clone()),
            "{label}"
        );
    }
    // The email is kept, the password is not; the message sits between the password field
    // and the button.
    let email = chrome.field("Email").await;
    assert_eq!(email.prop("value").await.unwrap(), Some(flow.email.clone()));
    let password = chrome.field("Password").await;
    assert_eq!(password.prop("value").await.unwrap().as_deref(), Some(""));
    let (_, below_password, _, _) = password.rectangle().await.unwrap();
    let (_, alert_top, _, _) = alert.rectangle().await.unwrap();
    let (_, button_top, _, _) = chrome.button("Sign in").await.rectangle().await.unwrap();
    assert!(below_password < alert_top && alert_top < button_top);

    // Not signed in: the account page asks for a sign-in.
    chrome.goto(&flow.srv.url("/account")).await;
    chrome.wait_for_url(&flow.srv.url("/login")).await;
    chrome.expect_heading("Sign in").await;
}

/// "Deny" sends the user back to the app with `access_denied`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_returns_access_denied_to_the_app() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    chrome.goto(&flow.authorize_url("no")).await;
    chrome.sign_in(&flow.email, support::PASSWORD).await;
    chrome.button("Deny").await.click().await.unwrap();

    let url = chrome.wait_for_url(&flow.redirect).await;
    let params = flow.callback(&url, "no");
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert!(!params.contains_key("code"), "{url}");
}

/// The sign-in, approval and account pages fit a phone screen without sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_fit_a_phone_screen() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    chrome.resize(PHONE).await;
    let inner = chrome.script("return window.innerWidth;").await;
    assert!(
        inner.as_u64().unwrap() <= u64::from(PHONE.0),
        "the window is phone-sized ({inner}px)"
    );

    chrome.goto(&flow.authorize_url("phone")).await;
    chrome.expect_heading("Sign in").await;
    chrome.assert_fits("the sign-in page").await;
    chrome.sign_in(&flow.email, "not the password").await;
    chrome.wait_for(Locator::Css("[role=alert]")).await;
    chrome.assert_fits("the sign-in page with an error").await;
    chrome.sign_in(&flow.email, support::PASSWORD).await;
    chrome
        .expect_heading("Trading web wants to access your account")
        .await;
    chrome.assert_fits("the approval page").await;
    chrome.button("Allow").await.click().await.unwrap();
    chrome.wait_for_url(&flow.redirect).await;
    chrome.goto(&flow.srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    chrome.assert_fits("the account page").await;
}

/// Screenshots of every page at desktop and phone width, into `target/screenshots/`, for a
/// person to look at; the test checks each page is the one expected and fits its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_every_page() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let flow = Flow::start().await;
    // One member per window size: an approval is remembered, and the second pass needs to
    // see the approval page again.
    let bob = "bob@acme.example";
    flow.srv.member(&flow.org_id, bob, Role::Member).await;
    for (size, label, email) in [
        (DESKTOP, "desktop", flow.email.as_str()),
        (PHONE, "phone", bob),
    ] {
        chrome.client.delete_all_cookies().await.unwrap();
        chrome.resize(size).await;
        let shoot = |name: &'static str, heading: &'static str| {
            let chrome = &chrome;
            async move {
                chrome.expect_heading(heading).await;
                chrome.assert_fits(name).await;
                chrome.screenshot(name, size, label).await;
            }
        };

        chrome.goto(&flow.authorize_url(label)).await;
        shoot("login", "Sign in").await;
        chrome.sign_in(email, "not the password").await;
        chrome.wait_for(Locator::Css("[role=alert]")).await;
        shoot("login-error", "Sign in").await;
        chrome.sign_in(email, support::PASSWORD).await;
        shoot("approval", "Trading web wants to access your account").await;
        // The focus ring, as a keyboard user first sees it on this page.
        chrome.press(Key::Tab).await;
        chrome.screenshot("approval-focus", size, label).await;
        chrome.button("Allow").await.click().await.unwrap();
        chrome.wait_for_url(&flow.redirect).await;

        chrome.goto(&flow.srv.url("/account")).await;
        let listed = chrome
            .wait_for(Locator::XPath("//td[contains(., 'Trading web')]"))
            .await;
        assert!(listed.is_displayed().await.unwrap());
        chrome.button("Revoke").await;
        shoot("account", "Your account").await;

        chrome.goto(&flow.srv.url("/logout")).await;
        shoot("logout", "Sign out of Grantor?").await;

        let bad = format!(
            "/oauth2/authorize?client_id={}&redirect_uri=https://evil.example/cb\
             &response_type=code&scope=openid",
            flow.client_id
        );
        chrome.goto(&flow.srv.url(&bad)).await;
        chrome
            .expect_heading("This sign-in request cannot be completed")
            .await;
        chrome.wait_for(Locator::Css("[role=alert]")).await;
        assert!(
            chrome.url().await.as_str().starts_with(&flow.srv.issuer),
            "a bad redirect URI is never followed"
        );
        chrome.assert_fits("the error page").await;
        chrome.screenshot("error", size, label).await;
    }
}
