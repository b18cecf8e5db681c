//! Changing a password at `/account` and setting one from the CLI: the current password is
//! required, the new one meets the usual rules, and the sessions that knew the old one end.

use crate::both_backends;
use crate::support::http_session::{HttpSession, Page};
use crate::support::{Backend, PASSWORD, TestServer, cli};

both_backends!(
    a_user_changes_their_password_and_their_other_sessions_end,
    the_operator_sets_a_password_and_the_user_is_signed_out_everywhere,
);

pub const NEW_PASSWORD: &str = "a brand new passphrase";

/// A browser signed in as `email` with `password`, on its account page.
pub async fn signed_in(srv: &TestServer, email: &str, password: &str) -> (HttpSession, Page) {
    let mut browser = srv.http_session();
    let login = browser.get("/login?return_to=%2Faccount").await;
    let account = browser.sign_in(&login, email, password).await;
    assert_eq!(account.status, 200, "{}", account.body);
    (browser, account)
}

/// Tries `password` for `email` at the sign-in page; returns the status of the answer.
pub async fn sign_in_status(srv: &TestServer, email: &str, password: &str) -> u16 {
    let mut browser = srv.http_session();
    let login = browser.get("/login").await;
    let csrf = login.field("csrf").unwrap();
    let answer = browser
        .post(
            "/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await;
    answer.status
}

async fn change(
    browser: &mut HttpSession,
    page: &Page,
    current: &str,
    new: &str,
    again: &str,
) -> Page {
    let csrf = page.field("csrf").unwrap();
    browser
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", again),
            ],
        )
        .await
}

async fn a_user_changes_their_password_and_their_other_sessions_end(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let (mut here, account) = signed_in(&srv, &seed.email, PASSWORD).await;
    let (mut elsewhere, _) = signed_in(&srv, &seed.email, PASSWORD).await;
    assert!(account.body.contains("action=\"/account/password\""));

    let wrong = change(
        &mut here,
        &account,
        "not my password",
        NEW_PASSWORD,
        NEW_PASSWORD,
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("current password is incorrect"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("aria-invalid=\"true\""));
    let short = change(&mut here, &account, PASSWORD, "short", "short").await;
    assert_eq!(short.status, 422);
    assert!(
        short.body.contains("at least 8 characters"),
        "{}",
        short.body
    );
    let differ = change(
        &mut here,
        &account,
        PASSWORD,
        NEW_PASSWORD,
        "something else",
    )
    .await;
    assert_eq!(differ.status, 422);
    assert!(differ.body.contains("differ"), "{}", differ.body);
    let forged = here
        .post(
            "/account/password",
            &[
                ("csrf", "forged"),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        forged.status, 403,
        "a form without this session's CSRF token"
    );
    assert_eq!(
        elsewhere.get("/account").await.status,
        200,
        "nothing changed yet"
    );

    let done = change(&mut here, &account, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account?password=changed"))
    );
    let shown = here.follow(done).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown.body.contains("Your password was changed"),
        "{}",
        shown.body
    );
    assert_eq!(here.get("/account").await.status, 200, "this session stays");
    let gone = elsewhere.get("/account").await;
    assert_eq!(
        (gone.status, gone.location.as_deref()),
        (303, Some("/login?return_to=%2Faccount")),
        "the other session is signed out"
    );
    assert_eq!(sign_in_status(&srv, &seed.email, PASSWORD).await, 401);
    assert_eq!(sign_in_status(&srv, &seed.email, NEW_PASSWORD).await, 303);
}

async fn the_operator_sets_a_password_and_the_user_is_signed_out_everywhere(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let (mut browser, _) = signed_in(&srv, &seed.email, PASSWORD).await;
    let url = srv.db.url.as_str();
    let args = [
        "user",
        "set-password",
        "--email",
        &seed.email,
        "--password-stdin",
    ];
    let (ok, _, err) = cli(url, &args, Some("short\n")).await;
    assert!(!ok);
    assert!(err.contains("at least 8 characters"), "{err}");
    let nobody = [
        "user",
        "set-password",
        "--email",
        "nobody@acme.example",
        "--password-stdin",
    ];
    let (ok, _, err) = cli(url, &nobody, Some("long enough password\n")).await;
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");
    assert_eq!(browser.get("/account").await.status, 200);

    let (ok, user, err) = cli(url, &args, Some(&format!("{NEW_PASSWORD}\n"))).await;
    assert!(ok, "{err}");
    assert_eq!(user["email"], seed.email.as_str());
    assert!(
        user.get("password_hash").is_none(),
        "hashes are never printed"
    );
    let gone = browser.get("/account").await;
    assert_eq!(gone.status, 303, "signed out everywhere");
    assert_eq!(sign_in_status(&srv, &seed.email, PASSWORD).await, 401);
    assert_eq!(sign_in_status(&srv, &seed.email, NEW_PASSWORD).await, 303);
}
