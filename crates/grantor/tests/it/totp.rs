//! TOTP (issue 20, point 5) through the real pages: set up at `/account/security` with codes
//! computed here from the key the page shows, the second sign-in step, replay and recovery
//! codes, throttling, removal, and the password grant's refusal.

use crate::both_backends;
use crate::passwords::signed_in;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth::{code_in, decode_payload};
use crate::support::{Backend, PASSWORD, SignInSeed, TestServer, WEB_REDIRECT, oauth};
use grantor_core::clock::ManualClock;
use grantor_core::{Clock, SystemClock, totp};
use std::sync::Arc;

both_backends!(
    a_user_sets_up_totp_and_signs_in_with_codes_once_each,
    wrong_codes_are_throttled_and_the_password_grant_is_refused,
    id_tokens_say_how_the_user_signed_in,
);

/// The text of the first element opened by `open` on `page`.
fn text_after(page: &Page, open: &str) -> Option<String> {
    let rest = page.body.split(open).nth(1)?;
    Some(rest.split('<').next()?.to_string())
}

/// The current code of `secret` on `clock`.
fn code_now(clock: &ManualClock, secret: &[u8]) -> String {
    totp::code(secret, totp::step_at(clock.now()))
}

struct Enrolled {
    browser: HttpSession,
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
}

/// The seed's user sets up an authenticator app; the clock then moves to the next step.
async fn enrol(srv: &TestServer, seed: &SignInSeed, clock: &ManualClock) -> Enrolled {
    let (mut browser, _) = signed_in(srv, &seed.email, PASSWORD).await;
    let page = browser.get("/account/security").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<svg class=\"qr\" role=\"img\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("otpauth://totp/127"), "{}", page.body);
    let key = text_after(&page, "<code id=\"totp-secret\">").unwrap();
    let secret = totp::from_base32(&key).unwrap();
    assert_eq!(secret.len(), totp::SECRET_BYTES);
    let again = browser.get("/account/security").await;
    assert_eq!(
        text_after(&again, "<code id=\"totp-secret\">"),
        Some(key.clone())
    );

    let csrf = page.field("csrf").unwrap();
    let right = code_now(clock, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = browser
        .post(
            "/account/security/totp",
            &[("csrf", &csrf), ("code", wrong)],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("aria-invalid=\"true\""));
    let forged = browser
        .post(
            "/account/security/totp",
            &[("csrf", "forged"), ("code", &right)],
        )
        .await;
    assert_eq!(forged.status, 403);
    let done = browser
        .post(
            "/account/security/totp",
            &[("csrf", &csrf), ("code", &right)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let recovery_codes: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next().map(str::to_string))
        .collect();
    assert_eq!(recovery_codes.len(), 10, "{}", done.body);
    let shown = browser.get("/account/security").await;
    assert!(
        shown.body.contains("10 of 10 recovery codes left"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains(&recovery_codes[0]), "shown once");
    clock.advance(totp::STEP);
    Enrolled {
        browser,
        secret,
        recovery_codes,
    }
}

/// A fresh browser past the password, on the code page.
async fn at_code_page(srv: &TestServer, email: &str) -> (HttpSession, Page) {
    let mut browser = srv.http_session();
    let login = browser.get("/login?return_to=%2Faccount").await;
    let page = browser.sign_in(&login, email, PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("action=\"/login/code\""),
        "{}",
        page.body
    );
    (browser, page)
}

async fn submit_code(browser: &mut HttpSession, page: &Page, code: &str) -> Page {
    let csrf = page.field("csrf").unwrap();
    let return_to = page.field("return_to").unwrap_or_default();
    browser
        .post(
            "/login/code",
            &[("csrf", &csrf), ("return_to", &return_to), ("code", code)],
        )
        .await
}

async fn a_user_sets_up_totp_and_signs_in_with_codes_once_each(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut enrolled = enrol(&srv, &seed, &clock).await;

    let (mut browser, page) = at_code_page(&srv, &seed.email).await;
    let waiting = browser.get("/account").await;
    assert_eq!(waiting.status, 303, "no session before the code");
    let code = code_now(&clock, &enrolled.secret);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = submit_code(&mut browser, &page, wrong).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let done = submit_code(&mut browser, &page, &code).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account"))
    );
    assert_eq!(browser.get("/account").await.status, 200);
    assert!(
        !browser.has_cookie("grantor_sign_in")
            || browser.cookie_header().contains("grantor_sign_in=;")
    );

    // The same code again, within its window, from another browser: refused.
    let (mut other, page) = at_code_page(&srv, &seed.email).await;
    let replay = submit_code(&mut other, &page, &code).await;
    assert_eq!(replay.status, 401, "replayed: {}", replay.body);
    assert!(replay.body.contains("already used"));
    clock.advance(totp::STEP);
    let next = submit_code(&mut other, &page, &code_now(&clock, &enrolled.secret)).await;
    assert_eq!(next.status, 303, "{}", next.body);

    // A recovery code works once.
    let recovery = enrolled.recovery_codes[0].to_uppercase();
    let (mut third, page) = at_code_page(&srv, &seed.email).await;
    assert_eq!(submit_code(&mut third, &page, &recovery).await.status, 303);
    let (mut fourth, page) = at_code_page(&srv, &seed.email).await;
    assert_eq!(submit_code(&mut fourth, &page, &recovery).await.status, 401);

    // The pending step belongs to the browser that passed the password.
    let mut stranger = srv.http_session();
    let elsewhere = stranger.get("/login/code").await;
    assert_eq!(elsewhere.status, 303);
    let copied = fourth.cookie_header();
    assert!(copied.contains("grantor_sign_in="), "{copied}");

    // Removal needs a fresh code.
    let b = &mut enrolled.browser;
    let page = b.get("/account/security").await;
    let csrf = page.field("csrf").unwrap();
    let without = b
        .post(
            "/account/security/totp/remove",
            &[("csrf", &csrf), ("code", "")],
        )
        .await;
    assert_eq!(without.status, 422, "{}", without.body);
    clock.advance(totp::STEP);
    let code = code_now(&clock, &enrolled.secret);
    let removed = b
        .post(
            "/account/security/totp/remove",
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(
        (removed.status, removed.location.as_deref()),
        (303, Some("/account/security?totp=removed"))
    );
    let mut plain = srv.http_session();
    let login = plain.get("/login?return_to=%2Faccount").await;
    let account = plain.sign_in(&login, &seed.email, PASSWORD).await;
    assert!(
        account.body.contains("Your account"),
        "password alone again"
    );
}

async fn wrong_codes_are_throttled_and_the_password_grant_is_refused(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let app = srv.password_app(&seed).await;
    let (status, _) = srv
        .oauth()
        .password(oauth::basic(&app), &seed.email, PASSWORD, &[])
        .await;
    assert_eq!(status, 200, "the password grant works before TOTP");
    let enrolled = enrol(&srv, &seed, &clock).await;
    let (status, body) = srv
        .oauth()
        .password(oauth::basic(&app), &seed.email, PASSWORD, &[])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let why = body["error_description"].as_str().unwrap_or_default();
    assert!(why.contains("second factor"), "{why}");

    let (mut browser, page) = at_code_page(&srv, &seed.email).await;
    let right = code_now(&clock, &enrolled.secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut throttled = None;
    for _ in 0..20 {
        let answer = submit_code(&mut browser, &page, wrong).await;
        if answer.status == 429 {
            throttled = Some(answer);
            break;
        }
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    let throttled = throttled.expect("wrong codes are slowed down");
    assert!(throttled.body.contains("Too many wrong codes"));
    let held = submit_code(&mut browser, &page, &right).await;
    assert_eq!(held.status, 429, "even the right code waits its turn");
}

/// The `amr` of the ID token an authorization-code flow from `page` (the app's redirect
/// under way, or a page before it) ends with, and of the one its refresh token gets.
async fn amr_after(
    srv: &TestServer,
    seed: &SignInSeed,
    browser: &mut HttpSession,
    page: Page,
) -> (serde_json::Value, serde_json::Value) {
    let mut page = browser.follow(page).await;
    if page.body.contains("action=\"/consent\"") {
        page = browser.decide(&page, true, &[], None).await;
    }
    let location = page.location.expect("back to the app");
    let code = code_in(&location);
    let basic = seed.web_basic();
    let (status, body) = srv.oauth().exchange_code(basic, &code, WEB_REDIRECT).await;
    assert_eq!(status, 200, "{body}");
    let first = decode_payload(body["id_token"].as_str().unwrap());
    let rt = body["refresh_token"].as_str().unwrap();
    let (status, refreshed) = srv.oauth().refresh(basic, rt, None).await;
    assert_eq!(status, 200, "{refreshed}");
    let again = decode_payload(refreshed["id_token"].as_str().unwrap());
    (first["amr"].clone(), again["amr"].clone())
}

async fn id_tokens_say_how_the_user_signed_in(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let url = seed.web_authorize_url("scope=openid&state=x&nonce=n");

    let mut browser = srv.http_session();
    let first = browser.get(&url).await;
    let login = browser.follow(first).await;
    let answer = browser.sign_in(&login, &seed.email, PASSWORD).await;
    let pwd = serde_json::json!(["pwd"]);
    assert_eq!(
        amr_after(&srv, &seed, &mut browser, answer).await,
        (pwd.clone(), pwd)
    );

    let enrolled = enrol(&srv, &seed, &clock).await;
    let mut browser = srv.http_session();
    let first = browser.get(&url).await;
    let login = browser.follow(first).await;
    let code_page = browser.sign_in(&login, &seed.email, PASSWORD).await;
    assert!(
        code_page.body.contains("action=\"/login/code\""),
        "{}",
        code_page.body
    );
    let code = code_now(&clock, &enrolled.secret);
    let answer = submit_code(&mut browser, &code_page, &code).await;
    let mfa = serde_json::json!(["pwd", "otp", "mfa"]);
    assert_eq!(
        amr_after(&srv, &seed, &mut browser, answer).await,
        (mfa.clone(), mfa)
    );
}
