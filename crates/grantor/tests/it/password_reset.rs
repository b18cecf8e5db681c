//! Resetting a forgotten password through a real SMTP server on loopback: the mailed link
//! works once, for 30 minutes, and signs the account out everywhere; an unknown address gets
//! the same answer and no mail; requests are throttled; a mail server that is down or busy
//! never breaks the page; the operator can make a link to hand over.

use crate::both_backends;
use crate::passwords::{NEW_PASSWORD, sign_in_status, signed_in};
use crate::support::http_session::{HttpSession, Page};
use crate::support::smtp::{Received, SmtpServer};
use crate::support::{Backend, PASSWORD, SignInSeed, TestServer, cli};
use grantor_core::clock::ManualClock;
use grantor_core::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

both_backends!(
    a_mailed_link_sets_a_new_password_once_and_signs_the_account_out_everywhere,
    a_link_expires_after_thirty_minutes,
    an_unknown_address_gets_the_same_answer_and_no_mail,
    reset_requests_are_throttled_per_account,
    the_operator_makes_a_link_to_hand_over,
);

pub const FROM: &str = "Grantor <noreply@grantor.test>";

/// A server that mails through `smtp`, on a clock the test moves.
pub async fn spawn(backend: Backend, smtp: &SmtpServer) -> (TestServer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let url = smtp.url();
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some(FROM.into());
    })
    .await;
    (srv, clock)
}

/// Asks for a reset link for `email` from a fresh browser; returns the answer.
pub async fn ask(srv: &TestServer, email: &str) -> Page {
    let mut browser = srv.http_session();
    let form = browser.get("/password-reset").await;
    assert_eq!(form.status, 200);
    let csrf = form.field("csrf").unwrap();
    browser
        .post("/password-reset", &[("csrf", &csrf), ("email", email)])
        .await
}

/// The path of the link in `mail`, checked to point at `srv`.
fn link_path(srv: &TestServer, mail: &Received) -> String {
    let link = mail.link();
    let path = link
        .strip_prefix(&srv.issuer)
        .unwrap_or_else(|| panic!("{link} is not on {}", srv.issuer));
    assert!(path.starts_with("/password-reset/gr_pwr_"), "{path}");
    path.to_string()
}

async fn set(browser: &mut HttpSession, path: &str, new: &str, again: &str) -> Page {
    let form = browser.get(path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.field("csrf").unwrap();
    browser
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("new_password", new),
                ("confirm_password", again),
            ],
        )
        .await
}

async fn mailed_link(srv: &TestServer, smtp: &SmtpServer, seed: &SignInSeed) -> String {
    let answer = ask(srv, &seed.email).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await.remove(0);
    link_path(srv, &mail)
}

async fn a_mailed_link_sets_a_new_password_once_and_signs_the_account_out_everywhere(
    backend: Backend,
) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let (mut elsewhere, _) = signed_in(&srv, &seed.email, PASSWORD).await;

    let mut browser = srv.http_session();
    let login = browser.get("/login").await;
    assert!(
        login
            .body
            .contains("href=\"/password-reset\">Forgot your password?")
    );
    let answer = ask(&srv, &seed.email.to_uppercase()).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .contains("a link to choose a new password is on its way")
    );
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(mail.to, std::slice::from_ref(&seed.email));
    assert_eq!(mail.from, "noreply@grantor.test");
    assert_eq!(mail.header("From").as_deref(), Some(FROM));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Reset your Grantor password")
    );
    assert!(mail.body().contains("within 30 minutes"), "{}", mail.body());
    let path = link_path(&srv, &mail);

    let form = browser.get(&path).await;
    assert!(
        form.body.contains(&seed.email),
        "the page names the account"
    );
    let differ = set(&mut browser, &path, NEW_PASSWORD, "something else").await;
    assert_eq!(differ.status, 422);
    assert!(differ.body.contains("differ"));
    let short = set(&mut browser, &path, "short", "short").await;
    assert_eq!(short.status, 422);
    assert!(
        short.body.contains("at least 8 characters"),
        "{}",
        short.body
    );
    assert_eq!(
        elsewhere.get("/account").await.status,
        200,
        "nothing changed yet"
    );

    let done = set(&mut browser, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your password was reset"));
    assert_eq!(
        elsewhere.get("/account").await.status,
        303,
        "every session was signed out"
    );
    assert_eq!(sign_in_status(&srv, &seed.email, PASSWORD).await, 401);
    assert_eq!(sign_in_status(&srv, &seed.email, NEW_PASSWORD).await, 303);

    let again = browser.get(&path).await;
    assert_eq!(again.status, 410, "the link works once");
    assert!(again.body.contains("already used or has expired"));
    let replay = browser
        .post(
            &path,
            &[
                ("csrf", "x"),
                ("new_password", "a third password"),
                ("confirm_password", "a third password"),
            ],
        )
        .await;
    assert_eq!(replay.status, 410);
    assert_eq!(sign_in_status(&srv, &seed.email, NEW_PASSWORD).await, 303);
}

async fn a_link_expires_after_thirty_minutes(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, clock) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let path = mailed_link(&srv, &smtp, &seed).await;
    clock.advance(29 * 60);
    let mut browser = srv.http_session();
    assert_eq!(
        browser.get(&path).await.status,
        200,
        "still open at 29 minutes"
    );
    let form = browser.get(&path).await;
    let csrf = form.field("csrf").unwrap();
    clock.advance(60);
    assert_eq!(
        browser.get(&path).await.status,
        410,
        "expired at 30 minutes"
    );
    let late = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(late.status, 410);
    assert_eq!(sign_in_status(&srv, &seed.email, PASSWORD).await, 303);
}

async fn an_unknown_address_gets_the_same_answer_and_no_mail(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let unknown = "nobody@acme.example";
    let for_nobody = ask(&srv, unknown).await;
    let for_ann = ask(&srv, &seed.email).await;
    assert_eq!(for_nobody.status, for_ann.status);
    assert_eq!(
        for_nobody.body.replace(unknown, "EMAIL"),
        for_ann.body.replace(&seed.email, "EMAIL"),
        "the same page whether or not the account exists"
    );
    // Delivery is in order: had the unknown address been mailed, it would have come first.
    smtp.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = smtp.received();
    assert!(
        received.iter().all(|m| m.to == [seed.email.clone()]),
        "{received:?}"
    );
    let not_email = ask(&srv, "not an email").await;
    assert_eq!(not_email.status, 422);
    assert!(not_email.body.contains("Enter an email address"));
}

async fn reset_requests_are_throttled_per_account(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, clock) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    for email in [seed.email.as_str(), "nobody@acme.example"] {
        for _ in 0..3 {
            assert_eq!(ask(&srv, email).await.status, 200);
        }
        let throttled = ask(&srv, email).await;
        assert_eq!(throttled.status, 429, "{email}");
        assert!(throttled.body.contains("Too many reset requests"));
    }
    smtp.wait_for(3, Duration::from_secs(10)).await;
    clock.advance(3600);
    assert_eq!(ask(&srv, &seed.email).await.status, 200, "an hour later");
}

async fn the_operator_makes_a_link_to_hand_over(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (srv, _) = spawn(backend, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let (mut elsewhere, _) = signed_in(&srv, &seed.email, PASSWORD).await;
    let url = srv.db.url.as_str();
    let args = ["--issuer", &srv.issuer, "user", "reset-link", "--email"];
    let (ok, out, err) = cli(url, &[&args[..], &["nobody@acme.example"]].concat(), None).await;
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");
    let (ok, out2, err) = cli(url, &[&args[..], &[seed.email.as_str()]].concat(), None).await;
    assert!(ok, "{err} {out}");
    assert_eq!(out2["email"], seed.email.as_str());
    assert!(out2["expires_at"].is_i64());
    let link = out2["link"].as_str().unwrap();
    let path = link.strip_prefix(&srv.issuer).unwrap().to_string();
    let mut browser = srv.http_session();
    let done = set(&mut browser, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(elsewhere.get("/account").await.status, 303);
    assert_eq!(sign_in_status(&srv, &seed.email, NEW_PASSWORD).await, 303);
    assert!(
        smtp.received().is_empty(),
        "the operator's link is not mailed"
    );
}

/// A mail server that is down, or busy for a moment, never changes the page: the link is
/// sent on a later try, or the failure is a warning in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_is_down_or_busy_never_breaks_the_page() {
    let down = SmtpServer::down_url().await;
    let srv = TestServer::spawn_with(Backend::Sqlite, Arc::new(SystemClock), |c| {
        c.smtp_url = Some(down);
        c.mail_from = Some(FROM.into());
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    let answer = ask(&srv, &seed.email).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("on its way"));

    let smtp = SmtpServer::start().await;
    smtp.refuse_next(1);
    let (srv, _) = spawn(Backend::Sqlite, &smtp).await;
    let seed = srv.seed_sign_in("acme").await;
    let started = std::time::Instant::now();
    let answer = ask(&srv, &seed.email).await;
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the page did not wait"
    );
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(
        smtp.attempts(),
        2,
        "refused once (451), sent on the second try"
    );
    assert_eq!(mail.to, std::slice::from_ref(&seed.email));
}

/// Without mail, a loopback issuer (the demo) logs the message; any other issuer says that
/// resets by mail are not available here, and answers no differently for any address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mail_the_demo_logs_and_others_send_people_to_an_administrator() {
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let seed = srv.seed_sign_in("acme").await;
    let answer = ask(&srv, &seed.email).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("on its way"));

    let srv = TestServer::spawn_with(Backend::Sqlite, Arc::new(SystemClock), |c| {
        c.issuer = Some("https://id.example.com".into());
    })
    .await;
    let mut browser = HttpSession::new(&format!("http://{}", srv.address));
    let page = browser.get("/password-reset").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("sends no mail"), "{}", page.body);
    assert!(!page.body.contains("action=\"/password-reset\""));
}
