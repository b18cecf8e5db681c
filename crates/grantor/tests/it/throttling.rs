//! Throttling of sign-in attempts: per address and per account, counted before the password
//! is checked, without revealing which accounts exist, and addresses read from forwarded
//! headers only behind a trusted proxy.

use crate::both_backends;
use crate::support::*;
use grantor_core::clock::ManualClock;
use grantor_core::{Clock, SystemClock};
use std::sync::Arc;

both_backends!(
    failed_logins_are_throttled_without_revealing_accounts,
    forwarded_addresses_count_only_behind_a_trusted_proxy,
    parallel_guesses_are_counted_before_the_password_is_checked,
    the_owner_signs_in_from_a_clean_address_while_an_attacker_is_throttled,
);

async fn failed_logins_are_throttled_without_revealing_accounts(backend: Backend) {
    // Time stands still, so a delay cannot run out while a loaded machine runs the test.
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock, |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut session = srv.http_session();
    let page = session.get("/login").await;
    let csrf = page.field("csrf").unwrap();
    let unknown = session
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "nobody@acme.example"),
                ("password", "wrong password"),
            ],
        )
        .await;
    let known = session
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", &seed.email),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(known.status, 401);
    let message = |body: &str| {
        body.split("role=\"alert\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        message(&unknown.body),
        message(&known.body),
        "the same answer whether or not the account exists"
    );

    let mut throttled = None;
    for _ in 0..8 {
        let answer = session
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", &seed.email),
                    ("password", "wrong password"),
                ],
            )
            .await;
        if answer.status == 429 {
            throttled = Some(answer);
            break;
        }
    }
    let throttled = throttled.expect("repeated failures are throttled");
    assert!(message(&throttled.body).contains("Try again in"));
    // While throttled, even the right password waits.
    let answer = session
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", &seed.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, 429);
    assert!(!session.has_cookie("grantor_session"));
    // The password grant shares the throttle.
    let app = srv.password_app(&seed).await;
    let (status, headers, body) = srv
        .post_form(
            "/oauth2/token",
            oauth::basic(&app),
            &[
                ("grant_type", "password"),
                ("username", &seed.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")));
    assert!(headers.contains_key("retry-after"));
}

async fn forwarded_addresses_count_only_behind_a_trusted_proxy(backend: Backend) {
    for trusted in [true, false] {
        let srv = TestServer::spawn_with(
            backend,
            std::sync::Arc::new(grantor_core::SystemClock),
            |c| {
                if trusted {
                    c.trusted_proxies = vec!["127.0.0.1".into()];
                }
            },
        )
        .await;
        let seed = srv.seed_sign_in("acme").await;
        let app = srv.password_app(&seed).await;
        assert!(
            throttled_from(&srv, &app, "198.51.100.7").await,
            "repeated failures from one address are throttled"
        );
        let (other, _, _) = srv
            .oauth()
            .password_from(&app, "198.51.100.8", &seed.email, PASSWORD)
            .await;
        if trusted {
            assert_eq!(
                other, 200,
                "another client behind the trusted proxy is not held up"
            );
        } else {
            assert_eq!(
                other, 429,
                "a forwarded-for header from an untrusted peer is ignored"
            );
        }
    }
}

async fn parallel_guesses_are_counted_before_the_password_is_checked(backend: Backend) {
    let (srv, seed) = TestServer::spawn_behind_proxy(backend).await;
    let app = Arc::new(srv.password_app(&seed).await);
    let srv = Arc::new(srv);
    let guesses: Vec<_> = (0..24)
        .map(|i| {
            let (srv, app, email) = (srv.clone(), app.clone(), seed.email.clone());
            tokio::spawn(async move {
                let guess = format!("guess {i}");
                srv.oauth()
                    .password_from(&app, "198.51.100.7", &email, &guess)
                    .await
            })
        })
        .collect();
    let mut checked = 0;
    for guess in guesses {
        let (status, _, body) = guess.await.unwrap();
        match body["error"].as_str() {
            Some("invalid_grant") => checked += 1,
            Some("slow_down" | "temporarily_unavailable") => {
                assert!(status == 429 || status == 503)
            }
            other => panic!("unexpected answer {status} {other:?}"),
        }
    }
    // One attempt from a clean address and the account's three free ones (one more if the
    // burst straddles a second): never the whole burst.
    assert!(
        (1..=5).contains(&checked),
        "{checked} of 24 parallel guesses reached the password check"
    );
}

async fn the_owner_signs_in_from_a_clean_address_while_an_attacker_is_throttled(backend: Backend) {
    let (srv, seed) = TestServer::spawn_behind_proxy(backend).await;
    let app = srv.password_app(&seed).await;
    let mut throttled = false;
    for i in 0..15 {
        let (status, _, _) = srv
            .oauth()
            .password_from(&app, "198.51.100.7", &seed.email, &format!("guess {i}"))
            .await;
        if status == 429 {
            throttled = true;
            break;
        }
    }
    assert!(
        throttled,
        "the attacker's address is throttled on this account"
    );
    let (status, _, body) = srv
        .oauth()
        .password_from(&app, "203.0.113.50", &seed.email, PASSWORD)
        .await;
    assert_eq!(
        status, 200,
        "the owner, from an address with no failures, is not locked out: {body}"
    );
}

/// Fails password-grant sign-ins for made-up accounts (so only the address throttle applies)
/// from `forwarded` until throttled; returns whether throttling happened within 20 tries.
async fn throttled_from(
    srv: &TestServer,
    app: &grantor_core::manage::AppWithSecret,
    forwarded: &str,
) -> bool {
    for i in 0..20 {
        let nobody = format!("nobody{i}@x.example");
        let (status, _, _) = srv
            .oauth()
            .password_from(app, forwarded, &nobody, "wrong password")
            .await;
        if status == 429 {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_addresses_are_throttled_by_their_64() {
    let (srv, seed) = TestServer::spawn_behind_proxy(Backend::Sqlite).await;
    let app = srv.password_app(&seed).await;
    let mut throttled_at = None;
    for i in 0..20 {
        // A new address and a new made-up account each time, all in one /64.
        let address = format!("2001:db8:7:7::{:x}", i + 1);
        let (status, _, _) = srv
            .oauth()
            .password_from(
                &app,
                &address,
                &format!("nobody{i}@x.example"),
                "wrong password",
            )
            .await;
        if status == 429 {
            throttled_at = Some(i);
            break;
        }
    }
    assert!(
        throttled_at.is_some(),
        "addresses of one /64 share a throttle"
    );
    let (status, _, _) = srv
        .oauth()
        .password_from(&app, "2001:db8:7:8::1", &seed.email, PASSWORD)
        .await;
    assert_eq!(status, 200, "the next /64 is another subscriber");
}
