//! TOTP in headless Chromium: the set-up at `/account/security` (the key read off the page,
//! codes computed here), the recovery codes, and the second sign-in step with a wrong code,
//! then the right one; each page checked with axe-core at 1280 and 360 px.

use crate::support::chrome::{Chrome, DESKTOP};
use crate::support::{Backend, PASSWORD, TestServer};
use fantoccini::Locator;
use fantoccini::key::Key;
use grantor_core::clock::ManualClock;
use grantor_core::{Clock, SystemClock, totp};
use std::sync::Arc;

const PHONE: (u32, u32) = (360, 800);

/// No serious or critical axe-core finding and nothing scrolling sideways, at desktop and
/// phone width.
async fn accessible(chrome: &Chrome, page: &str) {
    for size in [DESKTOP, PHONE] {
        chrome.resize(size).await;
        let found = chrome.axe().await;
        assert!(found.is_empty(), "{page} at {size:?}: {found:#?}");
        chrome.assert_fits(page).await;
    }
    chrome.resize(DESKTOP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sets_up_an_authenticator_app_and_signs_in_with_its_code() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(Backend::Sqlite, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;

    chrome.goto(&srv.url("/account/security")).await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Sign-in security").await;
    chrome.wait_for(Locator::Css("svg.qr")).await;
    accessible(&chrome, "set-up").await;
    let key = chrome.text_of("totp-secret").await;
    let secret = totp::from_base32(&key).unwrap();
    let code = totp::code(&secret, totp::step_at(clock.now()));
    let field = chrome.field("Code from your app").await;
    field.send_keys(&code).await.unwrap();
    chrome.press(Key::Enter).await;
    chrome.wait_for(Locator::Id("codes-heading")).await;
    accessible(&chrome, "recovery codes").await;

    chrome.goto(&srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    chrome.click_button("Sign out").await;
    chrome.expect_heading("You are signed out").await;
    clock.advance(totp::STEP);
    chrome.goto(&srv.url("/account")).await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Enter your code").await;
    accessible(&chrome, "code").await;
    let right = totp::code(&secret, totp::step_at(clock.now()));
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    chrome.field("Code").await.send_keys(wrong).await.unwrap();
    chrome.press(Key::Enter).await;
    let alert = chrome.wait_for(Locator::Id("code-error")).await;
    assert_eq!(
        alert.text().await.unwrap(),
        "The code is incorrect or was already used."
    );
    accessible(&chrome, "code, wrong").await;
    chrome.field("Code").await.send_keys(&right).await.unwrap();
    chrome.press(Key::Enter).await;
    chrome.expect_heading("Your account").await;
}
