//! The way in: `/` leads to the console or to the sign-in page, and `grantor demo` prints
//! the console's, the account's and the password reset's addresses with the owner's
//! credentials.

use crate::both_backends;
use crate::support::http_session::HttpSession;
use crate::support::process::{self, Process};
use crate::support::{Backend, PASSWORD, TestServer};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

both_backends!(the_root_leads_to_the_console_or_to_sign_in);

async fn the_root_leads_to_the_console_or_to_sign_in(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed_sign_in("acme").await;
    let mut browser = srv.http_session();
    let root = browser.get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(
        root.location.as_deref(),
        Some("/login?return_to=%2Fconsole")
    );
    let login = browser.follow(root).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.field("return_to").as_deref(), Some("/console"));
    let console = browser.sign_in(&login, &seed.email, PASSWORD).await;
    assert_eq!(console.status, 200, "{}", console.body);
    assert!(console.body.contains("acme"), "{}", console.body);
    let root = browser.get("/").await;
    assert_eq!(
        (root.status, root.location.as_deref()),
        (303, Some("/console")),
        "signed in, the root goes straight to the console"
    );
}

/// The text after `label` on the demo's line that starts with it, up to the next space.
fn address_on<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the demo prints no {label:?} line:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_the_console_account_and_reset_addresses_with_credentials() {
    let mut command = process::grantor();
    command
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped());
    let mut grantor = Process::spawn(command);
    let mut text = String::new();
    for line in BufReader::new(grantor.stdout())
        .lines()
        .map_while(Result::ok)
    {
        text.push_str(&line);
        text.push('\n');
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    let issuer = text
        .split("Grantor demo is running at ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let console = address_on(&text, "Console:");
    let account = address_on(&text, "Your account:");
    let reset = address_on(&text, "Password reset:");
    assert_eq!(console, format!("{issuer}/console"));
    assert_eq!(account, format!("{issuer}/account"));
    assert_eq!(reset, format!("{issuer}/password-reset"));
    let console_line = text.lines().find(|l| l.starts_with("Console:")).unwrap();
    let password = console_line
        .split("/ password ")
        .nth(1)
        .and_then(|r| r.split([' ', ')']).next())
        .unwrap();
    assert!(console_line.contains("owner@demo.example"));

    // The printed address and credentials open the demo organization's console.
    let mut browser = HttpSession::new(&issuer);
    let page = browser.get(console).await;
    let login = browser.follow(page).await;
    let page = browser
        .sign_in(&login, "owner@demo.example", password)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Trading bot"), "{}", page.body);
    let page = browser.get(account).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("owner@demo.example"));
    drop(grantor);
}
