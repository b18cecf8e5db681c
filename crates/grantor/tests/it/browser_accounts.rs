//! The pages of verified emails and required second factors in headless Chromium, with the
//! keyboard alone after signing in: an organization's rule leads a member from the sign-in to
//! the set-up prompt and on to the app's approval page; a verification link's landing page
//! verifies the address; each page checked with axe-core at 1280 and 360 px.

use crate::support::chrome::{Chrome, DESKTOP};
use crate::support::{Backend, PASSWORD, TestServer};
use fantoccini::Locator;
use fantoccini::key::Key;
use grantor_core::clock::ManualClock;
use grantor_core::model::{Actor, Caller};
use grantor_core::store::UserStore;
use grantor_core::{Clock, SystemClock, totp};
use std::sync::Arc;

const PHONE: (u32, u32) = (360, 800);

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
async fn a_member_is_led_to_set_up_a_second_factor_and_verifies_their_email() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(Backend::Sqlite, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.state
        .manager
        .set_require_second_factor(&Caller::operator(), &seed.seed.org.id, true)
        .await
        .unwrap();

    chrome
        .goto(&srv.url(&seed.web_authorize_url("scope=openid&state=x&nonce=n")))
        .await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Sign-in security").await;
    let notice = chrome.text_of("required-notice").await;
    assert!(notice.contains("acme requires a second factor"), "{notice}");
    accessible(&chrome, "set-up required").await;
    let secret = totp::from_base32(&chrome.text_of("totp-secret").await).unwrap();
    chrome.tab_to("input#confirm-code", false).await;
    chrome
        .type_here(&totp::code(&secret, totp::step_at(clock.now())))
        .await;
    chrome.press(Key::Enter).await;
    chrome.wait_for(Locator::Id("codes-heading")).await;
    accessible(&chrome, "recovery codes, continue").await;
    chrome.tab_to("a#continue", false).await;
    chrome.press(Key::Enter).await;
    chrome
        .wait_for(Locator::Css("form[action='/consent']"))
        .await;

    // A verification link, as mailed.
    let user = UserStore::user_by_email(&srv.state.store, &seed.email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let caller = Caller::new(
        Actor::User {
            user_id: user,
            platform_admin: false,
            token: None,
        },
        None,
    );
    let (_, token) = srv
        .state
        .manager
        .request_email_verification(&caller)
        .await
        .unwrap()
        .unwrap();
    chrome
        .goto(&srv.url(&format!("/verify-email/{token}")))
        .await;
    chrome.expect_heading("Verify your email").await;
    accessible(&chrome, "verify-email").await;
    chrome.tab_to("button \"Verify my email\"", false).await;
    chrome.press(Key::Enter).await;
    chrome.expect_heading("Your email is verified").await;
    accessible(&chrome, "verified").await;
}
