//! The password reset in headless Chromium, through the real SMTP receiver: from the sign-in
//! page's "Forgot your password?" to signing in with the new password, each form filled and
//! sent with the keyboard, each page checked with axe-core at 1280 and 360 px; then the
//! account page's password form.

use crate::password_reset::spawn;
use crate::passwords::NEW_PASSWORD;
use crate::support::Backend;
use crate::support::chrome::{Chrome, DESKTOP};
use crate::support::smtp::SmtpServer;
use fantoccini::key::Key;
use std::time::Duration;

const PHONE: (u32, u32) = (360, 800);

impl Chrome {
    /// No serious or critical axe-core finding and nothing scrolling sideways, at desktop and
    /// phone width.
    async fn accessible(&self, page: &str) {
        for size in [DESKTOP, PHONE] {
            self.resize(size).await;
            let found = self.axe().await;
            assert!(found.is_empty(), "{page} at {size:?}: {found:#?}");
            self.assert_fits(page).await;
        }
        self.resize(DESKTOP).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(Backend::Sqlite, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;

    chrome.goto(&srv.url("/console")).await;
    chrome.expect_heading("Sign in").await;
    chrome.click_link("Forgot your password?").await;
    chrome.expect_heading("Reset your password").await;
    chrome.accessible("reset request").await;
    let email = chrome.field("Email").await;
    email.send_keys(&seed.email).await.unwrap();
    chrome.press(Key::Enter).await;
    let sent = chrome
        .wait_for(fantoccini::Locator::Css("main p[role=status]"))
        .await;
    assert!(sent.text().await.unwrap().contains(&seed.email));
    chrome.accessible("reset requested").await;

    let mail = smtp.wait_for(1, Duration::from_secs(10)).await.remove(0);
    chrome.goto(&mail.link()).await;
    chrome.expect_heading("Choose a new password").await;
    chrome.accessible("new password").await;
    chrome
        .field("New password")
        .await
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    chrome
        .field("New password again")
        .await
        .send_keys(NEW_PASSWORD)
        .await
        .unwrap();
    chrome.press(Key::Enter).await;
    chrome.expect_heading("Your password was reset").await;
    chrome.accessible("password reset").await;

    chrome.click_link("Sign in").await;
    chrome.expect_heading("Sign in").await;
    let field = chrome.field("Email").await;
    field.send_keys(&seed.email).await.unwrap();
    let password = chrome.field("Password").await;
    password.send_keys(NEW_PASSWORD).await.unwrap();
    chrome.press(Key::Enter).await;
    chrome.expect_heading("OAuth Apps").await;

    // The account page's password form, and its answer to a wrong current password.
    chrome.goto(&srv.url("/account")).await;
    chrome.expect_heading("Your account").await;
    chrome.accessible("account").await;
    let current = chrome.field("Current password").await;
    current.send_keys("not my password").await.unwrap();
    chrome
        .field("New password")
        .await
        .send_keys("another new password")
        .await
        .unwrap();
    let again = chrome.field("New password again").await;
    again.send_keys("another new password").await.unwrap();
    chrome.press(Key::Enter).await;
    let alert = chrome
        .wait_for(fantoccini::Locator::Id("current_password-error"))
        .await;
    assert_eq!(
        alert.text().await.unwrap(),
        "The current password is incorrect."
    );
    chrome.accessible("account, wrong current password").await;
}
