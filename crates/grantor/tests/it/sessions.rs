//! The user's sessions at `/account`: each browser listed with its User-Agent and address,
//! last seen written at most once a minute, one or all other sessions signed out, and never
//! another user's.

use crate::both_backends;
use crate::support::http_session::{HttpSession, Page};
use crate::support::{Backend, PASSWORD, TestServer};
use grantor_core::Clock;
use grantor_core::clock::ManualClock;
use grantor_core::model::Role;
use grantor_core::store::{SessionRecord, SessionStore};
use std::sync::Arc;

both_backends!(the_account_page_lists_and_ends_the_users_sessions);

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
/// Not a browser the summary knows, with characters the page must escape.
const ODD: &str = "TestPhone/1.0 <b>bold</b> & more";

async fn browser(
    srv: &TestServer,
    email: &str,
    user_agent: &str,
    address: &str,
) -> (HttpSession, Page) {
    let headers = [("user-agent", user_agent), ("x-forwarded-for", address)];
    let mut browser = HttpSession::with_headers(&srv.issuer, &headers);
    let login = browser.get("/login?return_to=%2Faccount").await;
    let account = browser.sign_in(&login, email, PASSWORD).await;
    assert_eq!(account.status, 200, "{}", account.body);
    (browser, account)
}

async fn sessions(srv: &TestServer, user_id: &str, now: i64) -> Vec<SessionRecord> {
    srv.state
        .store
        .sessions_of_user(user_id, now, 50)
        .await
        .unwrap()
}

fn signed_out(page: &Page) -> bool {
    (page.status, page.location.as_deref()) == (303, Some("/login?return_to=%2Faccount"))
}

async fn the_account_page_lists_and_ends_the_users_sessions(backend: Backend) {
    let clock = Arc::new(ManualClock::new(grantor_core::SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let seed = srv.seed_sign_in("acme").await;
    let bob_email = "bob@acme.example";
    srv.member(&seed.seed.org.id, bob_email, Role::Member).await;
    let (mut laptop, _) = browser(&srv, &seed.email, CHROME, "198.51.100.1").await;
    clock.advance(5);
    let (mut phone, _) = browser(&srv, &seed.email, ODD, "203.0.113.2").await;
    let (mut bob, _) = browser(&srv, bob_email, CHROME, "192.0.2.9").await;

    let page = laptop.get("/account").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    for shown in [
        "Chrome on Linux",
        "198.51.100.1",
        "203.0.113.2",
        "(this browser)",
    ] {
        assert!(body.contains(shown), "{shown} in {body}");
    }
    assert!(
        body.contains("TestPhone/1.0 &#60;b&#62;bold")
            || body.contains("TestPhone/1.0 &lt;b&gt;bold"),
        "{body}"
    );
    assert!(!body.contains("<b>bold"), "the User-Agent is escaped");
    assert!(
        !body.contains("192.0.2.9"),
        "another user's session is not listed"
    );
    assert_eq!(body.matches("(this browser)").count(), 1);
    // Newest first: the phone, then this laptop; only the phone has a sign-out form.
    assert!(body.find("203.0.113.2") < body.find("198.51.100.1"));
    let handles = page.fields("session");
    assert_eq!(handles.len(), 1, "{body}");
    let csrf = page.field("csrf").unwrap();

    // Last seen moves at most once a minute.
    let ann = session_of(&srv, &phone).await;
    let started = ann.last_seen_at;
    clock.advance(30);
    phone.get("/account").await;
    let seen = |s: &[SessionRecord]| {
        s.iter()
            .find(|r| r.handle == ann.handle)
            .unwrap()
            .last_seen_at
    };
    assert_eq!(
        seen(&sessions(&srv, &ann.user_id, clock.now()).await),
        started
    );
    clock.advance(31);
    phone.get("/account").await;
    assert_eq!(
        seen(&sessions(&srv, &ann.user_id, clock.now()).await),
        clock.now()
    );

    // Another user's session cannot be ended, and the answer is the same as for one's own.
    let bobs = session_of(&srv, &bob).await;
    let forged = laptop
        .post(
            "/account/sessions/end",
            &[("csrf", &csrf), ("session", &bobs.handle)],
        )
        .await;
    assert_eq!(
        (forged.status, forged.location.as_deref()),
        (303, Some("/account#sessions-heading"))
    );
    assert_eq!(
        bob.get("/account").await.status,
        200,
        "bob is still signed in"
    );

    // CSRF is required.
    let no_csrf = laptop
        .post(
            "/account/sessions/end",
            &[("csrf", "forged"), ("session", &handles[0])],
        )
        .await;
    assert_eq!(no_csrf.status, 403);
    let no_csrf = laptop
        .post("/account/sessions/end-others", &[("csrf", "forged")])
        .await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(phone.get("/account").await.status, 200, "nothing ended yet");

    // Signing out the phone ends it, and only it.
    let done = laptop
        .post(
            "/account/sessions/end",
            &[("csrf", &csrf), ("session", &handles[0])],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account#sessions-heading"))
    );
    assert!(
        signed_out(&phone.get("/account").await),
        "the phone is signed out"
    );
    assert_eq!(laptop.get("/account").await.status, 200);

    // "Everywhere else" ends the others and keeps this one and bob's.
    let (mut phone, _) = browser(&srv, &seed.email, ODD, "203.0.113.2").await;
    let (mut tablet, _) = browser(&srv, &seed.email, CHROME, "203.0.113.3").await;
    let all = laptop
        .post("/account/sessions/end-others", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (all.status, all.location.as_deref()),
        (303, Some("/account?ended=2#sessions-heading"))
    );
    let after = laptop.follow(all).await;
    assert_eq!(after.status, 200);
    assert!(
        after.body.contains("2 sessions were signed out"),
        "{}",
        after.body
    );
    assert!(signed_out(&phone.get("/account").await));
    assert!(signed_out(&tablet.get("/account").await));
    assert_eq!(bob.get("/account").await.status, 200);
    assert_eq!(sessions(&srv, &ann.user_id, clock.now()).await.len(), 1);
}

/// The session `browser` is signed in with, from its cookie.
async fn session_of(srv: &TestServer, browser: &HttpSession) -> SessionRecord {
    let header = browser.cookie_header();
    let id = header
        .split("; ")
        .find_map(|c| c.strip_prefix("grantor_session="))
        .unwrap();
    let hash = grantor_core::secret::hash(id);
    srv.state.store.session(&hash).await.unwrap().unwrap()
}
