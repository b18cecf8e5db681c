//! The organization console at `/console`: in headless Chromium (the wizard, secrets shown
//! once, adding apps, invitations, API tokens, axe-core on every page, screenshots), and over
//! plain HTTP for what a browser cannot show better (double submission, direct posts by roles
//! that may not, single-use invitations) on both databases.

use crate::browser::{Chrome, DESKTOP, WAIT, describe};
use crate::support::browser::{Browser, Page};
use crate::support::{self, Backend, PASSWORD, Seed, TestServer};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use grantor_core::model::{Actor, AppType, Caller, Role};
use grantor_core::store::{Directory, Window};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The phone width the console must work at.
const PHONE: (u32, u32) = (360, 780);
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const API_TOKEN: &str = "urn:grantor:params:oauth:token-type:api-token";
/// "Skip to content" as [`describe`] names the focused element.
const SKIP_LINK: &str = "a \"Skip to content\"";

/// axe-core 4.14.1 from npm (MPL-2.0, licence header kept in the file), injected into pages.
const AXE: &str = include_str!("vendor/axe.min.js");

/// An organization `acme` (Trading API, a server app `bot` added to it) and its owner.
async fn acme(srv: &TestServer) -> (Seed, String) {
    let seed = srv.seed("acme").await;
    let owner = "olga@acme.example".to_string();
    srv.member(&seed.org.id, &owner, Role::Owner).await;
    (seed, owner)
}

/// A second organization, `globex`, with `user` as a developer: the console's header then
/// holds the organization switcher too.
async fn globex_for(srv: &TestServer, user: &str) -> Seed {
    let globex = srv.seed("globex").await;
    srv.member(&globex.org.id, user, Role::Developer).await;
    globex
}

fn console_path(seed: &Seed, rest: &str) -> String {
    format!("/console/orgs/{}{rest}", seed.org.id)
}

/// A client_credentials request with Basic authentication; `organization` when given.
async fn client_credentials(
    srv: &TestServer,
    client_id: &str,
    secret: &str,
    organization: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(org) = organization {
        form.push(("organization", org));
    }
    let (status, _, body) = srv
        .post_form("/oauth2/token", Some((client_id, secret)), &form)
        .await;
    (status, body)
}

/// What the wizard is told: the kind of app (as its radio button reads), name, redirect URI
/// (none for server apps) and scopes.
struct WizardAnswers<'a> {
    kind: &'a str,
    name: &'a str,
    redirect: Option<&'a str>,
    scopes: &'a [&'a str],
    /// Legacy grants to opt into, as their checkboxes read.
    legacy: &'a [&'a str],
}

impl Chrome {
    /// Signs in through `/console`, landing on the organization's apps.
    async fn console_sign_in(&self, srv: &TestServer, email: &str) {
        self.goto(&srv.url("/console")).await;
        self.sign_in(email, PASSWORD).await;
        self.expect_heading("OAuth Apps").await;
    }

    async fn click_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space(.)='{text}']");
        self.wait_for(Locator::XPath(&xpath))
            .await
            .click()
            .await
            .unwrap();
    }

    async fn click_button(&self, text: &str) {
        self.button(text).await.click().await.unwrap();
    }

    async fn text_of(&self, id: &str) -> String {
        self.wait_for(Locator::Id(id)).await.text().await.unwrap()
    }

    /// Waits for the wizard's step `n`.
    async fn wizard_step(&self, n: usize) {
        let xpath =
            format!("//p[@class='step-count' and starts-with(normalize-space(.), 'Step {n} of')]");
        self.wait_for(Locator::XPath(&xpath)).await;
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Runs axe-core on the page; returns the serious and critical violations, described.
    async fn axe(&self) -> Vec<String> {
        let loaded = self.script("return typeof window.axe === 'object';").await;
        if loaded != Value::Bool(true) {
            self.client
                .execute(&format!("{AXE}\nreturn true;"), vec![])
                .await
                .unwrap();
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                          v.nodes.map(n => n.target.join(' ')).join(', '))
                 ), e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// Checks the page now showing at desktop and phone width: its heading, no sideways
    /// scrolling (of the page, or of a part inside it on a phone), tables stacked into rows
    /// on a phone, no serious or critical axe-core violation; saves a screenshot of each as
    /// `target/screenshots/console/<name>-<desktop|phone>.png`.
    async fn check_page(&self, name: &str, heading: &str) {
        self.expect_heading(heading).await;
        for (size, label) in [(DESKTOP, "desktop"), (PHONE, "phone")] {
            self.resize(size).await;
            self.assert_fits(&format!("{name} at {label} width")).await;
            if size == PHONE {
                self.assert_stacked(&format!("{name} at {label} width"))
                    .await;
            }
            let violations = self.axe().await;
            assert!(
                violations.is_empty(),
                "{name} at {label} width:\n{}",
                violations.join("\n")
            );
            self.screenshot(&format!("console/{name}"), size, label)
                .await;
        }
        self.resize(DESKTOP).await;
    }

    /// Asserts no table is laid out as a grid and nothing scrolls sideways inside itself: on
    /// a phone, list tables stack into label/value rows and long values wrap.
    async fn assert_stacked(&self, page: &str) {
        let found = self
            .script(
                "const grids = [...document.querySelectorAll('table')]
                   .filter(t => getComputedStyle(t).display === 'table')
                   .map(t => 'a table laid out as a grid: ' + t.querySelector('th, td').textContent);
                 const scrolling = [...document.querySelectorAll('body *')]
                   .filter(e => !e.matches('input, textarea, select'))
                   .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
                   .filter(e => e.scrollWidth > e.clientWidth)
                   .map(e => e.tagName.toLowerCase() + '.' + e.className + ' scrolls sideways: ' +
                             e.scrollWidth + 'px in ' + e.clientWidth + 'px');
                 return grids.concat(scrolling);",
            )
            .await;
        let found: Vec<String> = serde_json::from_value(found).unwrap();
        assert!(found.is_empty(), "{page}:\n{}", found.join("\n"));
    }

    /// Presses Tab (Shift-Tab when `back`) until `target`, as [`describe`] names it, has the
    /// focus; fails, saying what had it on the way, when the keyboard cannot get there.
    async fn tab_to(&self, target: &str, back: bool) {
        let mut passed = Vec::new();
        for _ in 0..40 {
            if back {
                let keys = KeyActions::new("keyboard".into())
                    .then(KeyAction::Down {
                        value: Key::Shift.into(),
                    })
                    .then(KeyAction::Down {
                        value: Key::Tab.into(),
                    })
                    .then(KeyAction::Up {
                        value: Key::Tab.into(),
                    })
                    .then(KeyAction::Up {
                        value: Key::Shift.into(),
                    });
                self.client.perform_actions(keys).await.unwrap();
            } else {
                self.press(Key::Tab).await;
            }
            let focused = self.focused().await;
            if focused == target {
                return;
            }
            passed.push(focused.chars().take(60).collect::<String>());
            if passed.len() > 2 && passed[passed.len() - 1] == passed[0] {
                break;
            }
        }
        panic!(
            "the keyboard never reaches {target}; {} went through {passed:?}",
            if back { "Shift-Tab" } else { "Tab" }
        );
    }

    /// Waits until `target`, as [`describe`] names it, has the focus.
    async fn expect_focus(&self, target: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let focused = self.focused().await;
            if focused == target {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{focused} has the focus, expected {target}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// From the top of a fresh page: the first Tab reaches "Skip to content", and Enter on it
    /// puts the focus on the page's `<main>`, past the header.
    async fn skip_to_content(&self) {
        self.press(Key::Tab).await;
        assert_eq!(self.focused().await, SKIP_LINK, "the first Tab");
        self.press(Key::Enter).await;
        self.expect_focus("main#content").await;
    }

    /// Types into whatever has the focus.
    async fn type_here(&self, text: &str) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(text).await.unwrap();
    }

    /// Whether the focused checkbox or radio button is checked.
    async fn focused_is_checked(&self) -> bool {
        let focused = self.client.active_element().await.unwrap();
        focused.is_selected().await.unwrap()
    }

    /// Goes through *Create App*; returns the app ID and the secret shown (if any), leaving
    /// the browser on the "App created" page.
    async fn create_app(
        &self,
        srv: &TestServer,
        seed: &Seed,
        app: WizardAnswers<'_>,
        check_pages: Option<&str>,
    ) -> (String, Option<String>) {
        let WizardAnswers {
            kind,
            name,
            redirect,
            scopes,
            legacy,
        } = app;
        self.goto(&srv.url(&console_path(seed, "/apps"))).await;
        self.click_link("Create App").await;
        self.wizard_step(1).await;
        if let Some(prefix) = check_pages {
            // Asking for the next step without choosing says what is missing.
            self.click_button("Next").await;
            self.wait_for(Locator::Css("#type-error")).await;
            self.check_page(&format!("{prefix}-1-type-error"), "Create App")
                .await;
        }
        self.checkbox(kind).await.click().await.unwrap();
        self.click_button("Next").await;
        self.wizard_step(2).await;
        if let Some(redirect) = redirect {
            if let Some(prefix) = check_pages {
                self.field("Redirect URIs")
                    .await
                    .send_keys("http://app.example.com/callback")
                    .await
                    .unwrap();
                self.click_button("Next").await;
                self.wait_for(Locator::Css("#redirect-error")).await;
                self.check_page(&format!("{prefix}-2-details-error"), "Create App")
                    .await;
                self.field("Redirect URIs").await.clear().await.unwrap();
            }
            self.field("Redirect URIs")
                .await
                .send_keys(redirect)
                .await
                .unwrap();
        }
        self.field("App name").await.send_keys(name).await.unwrap();
        self.click_button("Next").await;
        self.wizard_step(3).await;
        for s in scopes {
            self.checkbox(s).await.click().await.unwrap();
        }
        if let Some(prefix) = check_pages {
            self.check_page(&format!("{prefix}-3-scopes"), "Create App")
                .await;
        }
        self.click_button("Next").await;
        if redirect.is_some() {
            self.wizard_step(4).await;
            if let Some(prefix) = check_pages {
                self.check_page(&format!("{prefix}-4-legacy"), "Create App")
                    .await;
            }
            if !legacy.is_empty() {
                for grant in legacy {
                    self.checkbox(grant).await.click().await.unwrap();
                }
                // Not without saying so explicitly.
                self.click_button("Next").await;
                let xpath = "//p[contains(., 'confirm you understand the risks')]";
                self.wait_for(Locator::XPath(xpath)).await;
                self.checkbox("I understand the risks")
                    .await
                    .click()
                    .await
                    .unwrap();
            }
            self.click_button("Next").await;
        }
        let review = if redirect.is_some() { 5 } else { 4 };
        self.wizard_step(review).await;
        if let Some(prefix) = check_pages {
            self.check_page(&format!("{prefix}-5-review"), "Create App")
                .await;
        }
        self.click_button("Create app").await;
        self.expect_heading("App created").await;
        let client_id = self.text_of("app-id").await;
        let secret = match self.client.find(Locator::Id("app-secret")).await {
            Ok(e) => Some(e.text().await.unwrap()),
            Err(_) => None,
        };
        (client_id, secret)
    }
}

/// Each kind of app through the wizard: the secret shows once (with a working copy button,
/// so the CSP lets its script run), never again; a server app gets tokens once an owner adds
/// it to the organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wizard_creates_each_kind_of_app_and_shows_the_secret_once() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    chrome.console_sign_in(&srv, &owner).await;

    let kinds: [(&str, &str, Option<&str>, &[&str]); 3] = [
        ("Server to server", "Reporting job", None, &[]),
        (
            "Web app",
            "Trading portal",
            Some("https://portal.example.com/callback"),
            &[],
        ),
        (
            "Native / mobile app",
            "Trading phone app",
            Some("com.example.trading:/callback"),
            &["Password grant"],
        ),
    ];
    for (kind, name, redirect, legacy) in kinds {
        let answers = WizardAnswers {
            kind,
            name,
            redirect,
            scopes: &["trades:read"],
            legacy,
        };
        let (client_id, secret) = chrome.create_app(&srv, &seed, answers, None).await;
        assert!(grantor_core::model::is_app_id(&client_id), "{client_id}");
        let app = Directory::app(&srv.state.store, &client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(app.name, name);
        assert!(app.scopes.contains("trades:read"));
        assert_eq!(
            app.allow_password,
            !legacy.is_empty(),
            "legacy only when opted in"
        );
        assert!(!app.allow_implicit);
        match (app.app_type, &secret) {
            (AppType::Native, None) => {}
            (AppType::Native, Some(_)) => panic!("a native app got a secret"),
            (_, Some(secret)) => {
                assert!(secret.starts_with("gr_sec_"), "{secret}");
                assert!(app.redirect_uris.iter().map(String::as_str).eq(redirect));
                let copy = chrome
                    .wait_for(Locator::Css("button[data-copy=app-secret]"))
                    .await;
                assert!(copy.is_displayed().await.unwrap(), "the copy button runs");
                // Shown once: nowhere else in the console.
                chrome.click_link("Go to the app").await;
                chrome.expect_heading(name).await;
                assert!(!chrome.source().await.contains(secret.as_str()));
                chrome.goto(&srv.url(&console_path(&seed, "/apps"))).await;
                chrome.expect_heading("OAuth Apps").await;
                assert!(!chrome.source().await.contains(secret.as_str()));
            }
            (_, None) => panic!("a {name} app got no secret"),
        }
        if app.app_type == AppType::Server {
            let secret = secret.unwrap();
            let (status, body) = client_credentials(&srv, &client_id, &secret, None).await;
            assert_ne!(status, 200, "not added yet: {body}");
            chrome
                .goto(&srv.url(&console_path(&seed, "/added-apps")))
                .await;
            chrome.click_link(&format!("Add {name}")).await;
            chrome.expect_heading(&format!("Add {name} to acme")).await;
            chrome.click_button("Add app").await;
            chrome
                .wait_for(Locator::XPath("//p[contains(., 'The app was added')]"))
                .await;
            let (status, body) = client_credentials(&srv, &client_id, &secret, None).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["scope"], "trades:read");
        }
    }
}

/// Regenerating a secret: the old one stops working at the token endpoint, the new one works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_a_secret_replaces_it_at_the_token_endpoint() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    let (status, _) = client_credentials(&srv, seed.client_id(), seed.secret(), None).await;
    assert_eq!(status, 200);
    chrome.console_sign_in(&srv, &owner).await;
    chrome.click_link("bot").await;
    chrome.expect_heading("bot").await;
    chrome.click_link("Regenerate secret").await;
    chrome.expect_heading("Regenerate the secret of bot?").await;
    chrome.click_button("Regenerate secret").await;
    chrome.expect_heading("New app secret").await;
    let new_secret = chrome.text_of("app-secret").await;
    assert_ne!(new_secret, seed.secret());
    let (status, body) = client_credentials(&srv, seed.client_id(), seed.secret(), None).await;
    assert_eq!(status, 401, "the old secret is refused: {body}");
    let (status, body) = client_credentials(&srv, seed.client_id(), &new_secret, None).await;
    assert_eq!(status, 200, "the new secret works: {body}");

    // Again, keeping the previous secret for an hour: both work meanwhile.
    chrome.click_link("Go to the app").await;
    chrome.click_link("Regenerate secret").await;
    chrome
        .field("Keep the old secret working for")
        .await
        .select_by_value("3600")
        .await
        .unwrap();
    chrome.click_button("Regenerate secret").await;
    chrome.expect_heading("New app secret").await;
    let newer = chrome.text_of("app-secret").await;
    assert!(chrome.source().await.contains("keeps working until"));
    for secret in [&new_secret, &newer] {
        let (status, body) = client_credentials(&srv, seed.client_id(), secret, None).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// An owner of another organization adds an app by its ID, with fewer scopes; the app then
/// gets tokens there with those scopes only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_adds_another_organizations_app_by_its_id() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (acme, _) = acme(&srv).await;
    let globex = srv.seed("globex").await;
    let gary = "gary@globex.example";
    srv.member(&globex.org.id, gary, Role::Owner).await;
    let (status, _) =
        client_credentials(&srv, acme.client_id(), acme.secret(), Some(&globex.org.id)).await;
    assert_ne!(status, 200, "not added to globex yet");

    chrome.console_sign_in(&srv, gary).await;
    chrome
        .goto(&srv.url(&console_path(&globex, "/added-apps")))
        .await;
    chrome
        .field("App ID")
        .await
        .send_keys("app_0000")
        .await
        .unwrap();
    chrome.click_button("Find app").await;
    chrome.wait_for(Locator::Id("app-id-error")).await;
    let field = chrome.field("App ID").await;
    field.clear().await.unwrap();
    field.send_keys(acme.client_id()).await.unwrap();
    chrome.click_button("Find app").await;
    chrome.expect_heading("Add bot to globex").await;
    chrome.checkbox("trades:write").await.click().await.unwrap();
    chrome.click_button("Add app").await;
    chrome
        .wait_for(Locator::XPath("//p[contains(., 'The app was added')]"))
        .await;
    let (status, body) =
        client_credentials(&srv, acme.client_id(), acme.secret(), Some(&globex.org.id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "trades:read");
}

/// An owner invites someone new as a developer; they set a name and password through the
/// link, sign in, and find themselves a developer. The link works once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_person_joins_and_signs_in() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    chrome.console_sign_in(&srv, &owner).await;
    chrome.click_link("Members").await;
    chrome.expect_heading("Members").await;
    chrome
        .field("Email")
        .await
        .send_keys("nina@acme.example")
        .await
        .unwrap();
    chrome
        .field("Role")
        .await
        .select_by_value("developer")
        .await
        .unwrap();
    chrome.click_button("Create invitation link").await;
    let link = chrome.text_of("invite-link").await;
    assert!(
        link.starts_with(&format!("{}/invitations/gr_inv_", srv.issuer)),
        "{link}"
    );

    chrome.client.delete_all_cookies().await.unwrap();
    chrome.goto(&link).await;
    chrome.expect_heading("Join acme").await;
    chrome
        .field("Your name")
        .await
        .send_keys("Nina")
        .await
        .unwrap();
    chrome
        .field("Choose a password")
        .await
        .send_keys("a long new password")
        .await
        .unwrap();
    chrome
        .field("Type it again")
        .await
        .send_keys("a long new password")
        .await
        .unwrap();
    chrome.click_button("Create account and join").await;
    chrome
        .sign_in("nina@acme.example", "a long new password")
        .await;
    chrome.expect_heading("OAuth Apps").await;
    assert!(chrome.source().await.contains("developer"));
    assert!(
        chrome
            .client
            .find(Locator::LinkText("Create App"))
            .await
            .is_ok(),
        "a developer creates apps"
    );
    let members = srv
        .state
        .manager
        .members(&Caller::operator(), &seed.org.id, Window::first(100))
        .await
        .unwrap();
    assert!(
        members
            .iter()
            .any(|m| m.email == "nina@acme.example" && m.role == Role::Developer)
    );
    chrome.goto(&link).await;
    chrome
        .expect_heading("This invitation cannot be used")
        .await;
}

/// A member makes an API token in the console and a script exchanges it at the token
/// endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_made_in_the_console_is_exchanged() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, _) = acme(&srv).await;
    let mia = "mia@acme.example";
    srv.member(&seed.org.id, mia, Role::Member).await;
    chrome.console_sign_in(&srv, mia).await;
    chrome.click_link("API tokens").await;
    chrome.expect_heading("Your API tokens").await;
    chrome
        .field("Token name")
        .await
        .send_keys("nightly report")
        .await
        .unwrap();
    chrome.checkbox("trades:read").await.click().await.unwrap();
    chrome.click_button("Create token").await;
    let token = chrome.text_of("new-token").await;
    assert!(token.starts_with("gr_api_"), "{token}");
    let (status, _, body) = srv
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &token),
                ("subject_token_type", API_TOKEN),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "trades:read");
    // Revoked in the console, it is exchanged no more.
    chrome
        .goto(&srv.url(&console_path(&seed, "/api-tokens")))
        .await;
    chrome.click_button("Revoke").await;
    chrome
        .wait_for(Locator::XPath("//p[contains(., 'The token was revoked')]"))
        .await;
    let (status, _, _) = srv
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &token),
                ("subject_token_type", API_TOKEN),
            ],
        )
        .await;
    assert_eq!(status, 400);
}

/// axe-core on every console page, at desktop and phone width, with screenshots of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_is_accessible_at_both_widths() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    let globex = globex_for(&srv, &owner).await;
    // A developer with a long email makes an app with a long name, to see both wrap in the
    // lists and the audit log.
    let long = "maximilian.featherstonehaugh-worthington@research.laboratories.acme.example";
    srv.member(&seed.org.id, long, Role::Developer).await;
    let developer = Caller::new(
        Actor::User {
            user_id: Directory::user_by_email(&srv.state.store, long)
                .await
                .unwrap()
                .unwrap()
                .id,
            platform_admin: false,
            token: None,
        },
        None,
    );
    srv.state
        .manager
        .create_app(
            &developer,
            &seed.org.id,
            support::server_app(
                "Nightly reconciliation of settlement accounts between subsidiaries",
                &["trades:read"],
            ),
        )
        .await
        .unwrap();

    visit(&chrome, &srv, &seed, "/apps", "sign-in", "Sign in").await;
    chrome.sign_in(&owner, PASSWORD).await;
    chrome.check_page("apps", "OAuth Apps").await;

    let answers = WizardAnswers {
        kind: "Web app",
        name: "Trading portal",
        redirect: Some("https://portal.example.com/callback"),
        scopes: &["openid", "trades:read"],
        legacy: &["Implicit grant"],
    };
    let (web_id, _) = chrome
        .create_app(&srv, &seed, answers, Some("wizard-web"))
        .await;
    let web = Directory::app(&srv.state.store, &web_id)
        .await
        .unwrap()
        .unwrap();
    assert!(web.allow_implicit && !web.allow_password);
    chrome.check_page("app-created", "App created").await;
    chrome
        .goto(&srv.url(&console_path(&seed, &format!("/apps/{web_id}"))))
        .await;
    chrome.check_page("app", "Trading portal").await;
    let ttl = chrome.field("Access token lifetime (seconds)").await;
    ttl.send_keys("5").await.unwrap();
    chrome.click_button("Save changes").await;
    chrome.wait_for(Locator::Id("ttl-error")).await;
    chrome.check_page("app-error", "Trading portal").await;
    chrome.click_link("Delete app").await;
    chrome
        .check_page("app-delete", "Delete Trading portal?")
        .await;
    chrome
        .goto(&srv.url(&console_path(
            &seed,
            &format!("/apps/{}/secret", seed.client_id()),
        )))
        .await;
    chrome
        .check_page("app-regenerate", "Regenerate the secret of bot?")
        .await;
    chrome.click_button("Regenerate secret").await;
    chrome.check_page("app-new-secret", "New app secret").await;

    visit(
        &chrome,
        &srv,
        &seed,
        "/added-apps",
        "added-apps",
        "Apps added to acme",
    )
    .await;
    chrome
        .goto(&srv.url(&console_path(
            &seed,
            &format!("/added-apps/new?app={}", globex.client_id()),
        )))
        .await;
    chrome.check_page("add-app", "Add bot to acme").await;

    visit(
        &chrome,
        &srv,
        &seed,
        "/resource-servers",
        "resource-servers",
        "Resource servers",
    )
    .await;
    chrome
        .field("Identifier")
        .await
        .send_keys("https://payments.example.com")
        .await
        .unwrap();
    chrome
        .field("Name")
        .await
        .send_keys("Payments")
        .await
        .unwrap();
    chrome
        .field("Scopes")
        .await
        .send_keys("payments:read See payments\npay\"ments")
        .await
        .unwrap();
    chrome.click_button("Add resource server").await;
    chrome
        .wait_for(Locator::XPath(
            "//p[@role='alert' and contains(., 'valid scope name')]",
        ))
        .await;
    chrome
        .check_page("resource-servers-error", "Resource servers")
        .await;
    let scopes = chrome.field("Scopes").await;
    scopes.clear().await.unwrap();
    scopes
        .send_keys("payments:read See payments\npayments:send Send payments")
        .await
        .unwrap();
    chrome.click_button("Add resource server").await;
    chrome
        .wait_for(Locator::XPath("//p[contains(., 'was created')]"))
        .await;
    let payments = grantor_core::store::Registry::resource_server(
        &srv.state.store,
        "https://payments.example.com",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(payments.scopes.len(), 2);
    assert_eq!(payments.scopes[0].description, "See payments");
    chrome.click_link("Trading").await;
    chrome.check_page("resource-server", "Trading").await;

    visit(
        &chrome,
        &srv,
        &seed,
        "/api-tokens",
        "api-tokens",
        "Your API tokens",
    )
    .await;
    // Neither a name nor a scope: both refused at once, each beside its field.
    chrome.click_button("Create token").await;
    chrome.wait_for(Locator::Id("token-scopes-error")).await;
    chrome.wait_for(Locator::Id("token-name-error")).await;
    chrome
        .check_page("api-tokens-error", "Your API tokens")
        .await;
    create_token_in_console(
        &chrome,
        "deploy script",
        "grantor:apps",
        "api-token-created",
    )
    .await;

    visit(&chrome, &srv, &seed, "/members", "members", "Members").await;
    chrome.field("Email").await.send_keys("nina").await.unwrap();
    chrome.click_button("Create invitation link").await;
    chrome.wait_for(Locator::Id("invite-error")).await;
    chrome.check_page("members-error", "Members").await;
    chrome
        .field("Email")
        .await
        .send_keys("@acme.example")
        .await
        .unwrap();
    chrome.click_button("Create invitation link").await;
    let link = chrome.text_of("invite-link").await;
    chrome.check_page("members-invited", "Members").await;

    visit(&chrome, &srv, &seed, "/audit", "audit", "Audit log").await;

    chrome
        .goto(&srv.url(&console_path(
            &seed,
            "/apps/app_00000000000000000000000000000000",
        )))
        .await;
    chrome.check_page("not-found", "Not found").await;

    chrome.client.delete_all_cookies().await.unwrap();
    chrome.goto(&link).await;
    chrome.check_page("invitation", "Join acme").await;
}

/// "Skip to content" is the first thing Tab reaches on a console page; out of sight until
/// then, it shows when it has the focus (on a phone too) and takes the focus past the header
/// to the page itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_to_content_is_first_and_passes_the_header() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    globex_for(&srv, &owner).await;
    chrome.console_sign_in(&srv, &owner).await;
    let pages = [
        ("/apps", "OAuth Apps", "a \"Create App\""),
        ("/members", "Members", "select#role-1"),
    ];
    for (size, label) in [(PHONE, "phone"), (DESKTOP, "desktop")] {
        chrome.resize(size).await;
        for (path, heading, first) in pages {
            chrome.goto(&srv.url(&console_path(&seed, path))).await;
            chrome.expect_heading(heading).await;
            let link = chrome.wait_for(Locator::Css(".skip-link")).await;
            let (_, _, width, height) = link.rectangle().await.unwrap();
            assert!(width <= 1.0 && height <= 1.0, "hidden until focused");
            chrome.press(Key::Tab).await;
            assert_eq!(chrome.focused().await, SKIP_LINK, "{path}: the first Tab");
            let (x, y, width, height) = link.rectangle().await.unwrap();
            assert!(
                x >= 0.0 && y >= 0.0 && width > 40.0 && height > 20.0,
                "{path} at {label} width: shown when focused, at {x},{y} {width}x{height}"
            );
            assert!(x + width <= f64::from(size.0), "inside the window");
            let outline = chrome
                .script("return getComputedStyle(document.activeElement).outlineStyle")
                .await;
            assert_eq!(outline, "solid", "the focus ring shows");
            if path == "/apps" {
                chrome.screenshot("console/skip-link", size, label).await;
            }
            chrome.press(Key::Enter).await;
            chrome.expect_focus("main#content").await;
            chrome.press(Key::Tab).await;
            assert_eq!(
                chrome.focused().await,
                first,
                "{path}: after skipping, Tab goes on in the page, past the navigation"
            );
        }
    }
}

/// *Create App* with the keyboard alone, from the sign-in page to the page showing the app
/// ID and secret once: every control is reached with Tab or Shift-Tab and worked with Space,
/// Enter or, in the group of radio buttons, an arrow key. No clicks: a control the keyboard
/// cannot reach or work fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wizard_works_with_the_keyboard_alone() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, owner) = acme(&srv).await;
    let next = "button \"Next\"";
    chrome.goto(&srv.url("/console")).await;
    chrome.expect_heading("Sign in").await;
    chrome.expect_focus("input#email").await;
    chrome.type_here(&owner).await;
    chrome.tab_to("input#password", false).await;
    chrome.type_here(PASSWORD).await;
    chrome.tab_to("button \"Sign in\"", false).await;
    chrome.press(Key::Enter).await;
    chrome.expect_heading("OAuth Apps").await;

    chrome.skip_to_content().await;
    chrome.tab_to("a \"Create App\"", false).await;
    chrome.press(Key::Enter).await;

    // The kind of app: the radio buttons are one Tab stop; an arrow key moves the choice.
    chrome.wizard_step(1).await;
    chrome.skip_to_content().await;
    chrome.tab_to("input#type-server", false).await;
    chrome.press(Key::Down).await;
    chrome.expect_focus("input#type-web").await;
    assert!(chrome.focused_is_checked().await, "the arrow chose Web app");
    chrome.tab_to(next, false).await;
    chrome.press(Key::Enter).await;

    chrome.wizard_step(2).await;
    chrome.skip_to_content().await;
    chrome.tab_to("input#name", false).await;
    chrome.type_here("Keyboard portal").await;
    chrome.tab_to("textarea#redirect_uris", false).await;
    chrome
        .type_here("https://portal.example.com/callback")
        .await;
    chrome.tab_to(next, false).await;
    chrome.press(Key::Enter).await;

    chrome.wizard_step(3).await;
    let scope = describe(&chrome.checkbox("trades:read").await).await;
    chrome.skip_to_content().await;
    chrome.tab_to(&scope, false).await;
    chrome.press(Key::Space).await;
    assert!(chrome.focused_is_checked().await, "Space ticked {scope}");
    chrome.tab_to(next, false).await;
    chrome.press(Key::Enter).await;

    chrome.wizard_step(4).await;
    chrome.skip_to_content().await;
    for legacy in ["input#legacy-implicit", "input#legacy-ack"] {
        chrome.tab_to(legacy, false).await;
        chrome.press(Key::Space).await;
        assert!(chrome.focused_is_checked().await, "Space ticked {legacy}");
    }
    chrome.tab_to(next, false).await;
    chrome.press(Key::Enter).await;

    // The review: on to the last control, then back with Shift-Tab to "Create app".
    chrome.wizard_step(5).await;
    chrome.skip_to_content().await;
    chrome.tab_to("a \"Cancel\"", false).await;
    chrome.tab_to("button \"Create app\"", true).await;
    chrome.press(Key::Enter).await;

    chrome.expect_heading("App created").await;
    let client_id = chrome.text_of("app-id").await;
    let secret = chrome.text_of("app-secret").await;
    assert!(secret.starts_with("gr_sec_"), "{secret}");
    chrome.skip_to_content().await;
    for control in [
        "button \"Copy app ID\"",
        "button \"Copy secret\"",
        "a \"Go to the app\"",
    ] {
        chrome.tab_to(control, false).await;
    }
    let app = Directory::app(&srv.state.store, &client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.org_id, seed.org.id);
    assert_eq!(app.name, "Keyboard portal");
    assert_eq!(app.app_type, AppType::Web);
    assert!(
        app.redirect_uris
            .iter()
            .eq(["https://portal.example.com/callback"])
    );
    assert!(app.scopes.contains("trades:read"));
    assert!(app.allow_implicit && !app.allow_password);
}

/// What a member sees, checked as the owner's pages are (axe-core, nothing scrolling
/// sideways, screenshots at both widths): apps and resource servers read-only, the members
/// list, their own API tokens; the audit log is refused on a page of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_pages_are_accessible_at_both_widths() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let srv = TestServer::spawn(Backend::Sqlite).await;
    let (seed, _) = acme(&srv).await;
    let mia = "mia@acme.example";
    srv.member(&seed.org.id, mia, Role::Member).await;
    chrome.console_sign_in(&srv, mia).await;
    chrome.check_page("member-apps", "OAuth Apps").await;
    assert!(!chrome.source().await.contains("Create App"));
    chrome.click_link("bot").await;
    chrome.check_page("member-app", "bot").await;
    let app = chrome.source().await;
    assert!(!app.contains("Save changes") && !app.contains("Delete app"));

    visit(
        &chrome,
        &srv,
        &seed,
        "/added-apps",
        "member-added-apps",
        "Apps added to acme",
    )
    .await;
    visit(
        &chrome,
        &srv,
        &seed,
        "/resource-servers",
        "member-resource-servers",
        "Resource servers",
    )
    .await;
    chrome.click_link("Trading").await;
    chrome.check_page("member-resource-server", "Trading").await;
    visit(
        &chrome,
        &srv,
        &seed,
        "/members",
        "member-members",
        "Members",
    )
    .await;
    assert!(!chrome.source().await.contains("Invite someone"));

    visit(
        &chrome,
        &srv,
        &seed,
        "/api-tokens",
        "member-api-tokens",
        "Your API tokens",
    )
    .await;
    create_token_in_console(
        &chrome,
        "nightly report",
        "trades:read",
        "member-api-token-created",
    )
    .await;

    visit(
        &chrome,
        &srv,
        &seed,
        "/audit",
        "member-audit-refused",
        "Not allowed",
    )
    .await;
}

/// Signs in over plain HTTP and returns the console page it lands on.
async fn sign_in(srv: &TestServer, email: &str, path: &str) -> (Browser, Page) {
    let mut b = srv.browser();
    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    let page = b.get(&format!("/login?return_to={back}")).await;
    let page = b.sign_in(&page, email, PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (b, page)
}

/// The final step of *Create App*, as the browser sends it.
fn wizard_form<'a>(csrf: &'a str, once: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("once", once),
        ("step", "review"),
        ("app_type", "server"),
        ("name", name),
        ("scope", "trades:read"),
        ("go", "create"),
    ]
}

/// Whether a refused form shows a message under each of these ids, and no other.
fn refused_beside(page: &Page, ids: &[&str]) {
    assert_eq!(page.status, 422, "{}", page.body);
    for id in ids {
        assert!(
            page.body.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            page.body
        );
    }
    let shown = page.body.matches("role=\"alert\"").count();
    assert_eq!(shown, ids.len(), "one message per field: {}", page.body);
}

/// Opens the console page at `path` of `seed`'s organization and checks it (axe-core, no
/// sideways scroll, screenshot `shot`).
async fn visit(
    chrome: &Chrome,
    srv: &TestServer,
    seed: &Seed,
    path: &str,
    shot: &str,
    heading: &str,
) {
    chrome.goto(&srv.url(&console_path(seed, path))).await;
    chrome.check_page(shot, heading).await;
}

/// Fills in and sends the API-token form on the page `chrome` shows, then checks the page
/// that shows the new token once (screenshot `shot`).
async fn create_token_in_console(chrome: &Chrome, name: &str, scope: &str, shot: &str) {
    chrome
        .field("Token name")
        .await
        .send_keys(name)
        .await
        .unwrap();
    chrome.checkbox(scope).await.click().await.unwrap();
    chrome.click_button("Create token").await;
    chrome.wait_for(Locator::Id("new-token")).await;
    chrome.check_page(shot, "Your API tokens").await;
}

/// Opens a form's page and sends the form with that page's one-time key and `fields`.
async fn send_once(b: &mut Browser, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Page {
    let once = b.get(path).await.field("once").unwrap();
    let mut form = vec![("csrf", csrf), ("once", once.as_str())];
    form.extend_from_slice(fields);
    b.post(path, &form).await
}

/// Every field `Manager` refuses is named beside its form field in the console, all at once.
async fn forms_show_each_refusal_beside_its_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let servers = console_path(&seed, "/resource-servers");
    let (mut b, page) = sign_in(&srv, &owner, &servers).await;
    let csrf = page.field("csrf").unwrap();
    let refused = b
        .post(
            &servers,
            &[
                ("csrf", &csrf),
                ("identifier", "not a uri"),
                ("name", ""),
                (
                    "scopes",
                    "ledger:read Read\ngrantor:apps Reserved\nledger:read Again",
                ),
            ],
        )
        .await;
    refused_beside(
        &refused,
        &["identifier-error", "rs-name-error", "scopes-error"],
    );
    assert!(refused.body.contains("grantor:apps") && refused.body.contains("listed twice"));
    let trading = srv
        .state
        .store
        .resource_servers(&seed.org.id)
        .await
        .unwrap();
    assert_eq!(trading.len(), 1, "nothing was made");
    let edited = b
        .post(
            &format!("{servers}/{}", trading[0].id),
            &[("csrf", &csrf), ("name", " "), ("scopes", "")],
        )
        .await;
    refused_beside(&edited, &["rs-name-error", "scopes-error"]);

    let members = console_path(&seed, "/members");
    let invited = send_once(
        &mut b,
        &members,
        &csrf,
        &[("email", "nobody"), ("role", "boss")],
    )
    .await;
    refused_beside(&invited, &["invite-error", "invite-role-error"]);

    let tokens = console_path(&seed, "/api-tokens");
    let token = send_once(
        &mut b,
        &tokens,
        &csrf,
        &[
            ("name", ""),
            ("scope", "grantor:orgs"),
            ("expiry_days", "7"),
        ],
    )
    .await;
    refused_beside(&token, &["token-name-error", "token-scopes-error"]);
}

/// A final wizard form sent twice makes one app; the second answer points to it.
async fn a_double_submitted_wizard_makes_one_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut b, _) = sign_in(&srv, &owner, &console_path(&seed, "/apps/new")).await;
    let start = b.get(&console_path(&seed, "/apps/new")).await;
    let csrf = start.field("csrf").unwrap();
    let once = start.field("once").unwrap();
    let form = wizard_form(&csrf, &once, "Twice");
    let first = b.post(&console_path(&seed, "/apps/new"), &form).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.body.contains("gr_sec_"));
    let second = b.post(&console_path(&seed, "/apps/new"), &form).await;
    assert_eq!(second.status, 303);
    let location = second.location.unwrap();
    assert!(location.ends_with("?done=again"), "{location}");
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    assert_eq!(apps.iter().filter(|a| a.name == "Twice").count(), 1);
    let shown = b.get(&location).await;
    assert!(shown.body.contains("already sent") && !shown.body.contains("gr_sec_"));
}

/// A refused final form can be corrected and sent again with the same one-time key.
async fn a_refused_wizard_can_be_corrected(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut b, _) = sign_in(&srv, &owner, &console_path(&seed, "/apps/new")).await;
    let start = b.get(&console_path(&seed, "/apps/new")).await;
    let csrf = start.field("csrf").unwrap();
    let once = start.field("once").unwrap();
    let long = "x".repeat(101);
    let refused = b
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, &once, &long),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"name-error\""),
        "beside the field"
    );
    let fixed = b
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, &once, "Fixed"),
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
}

/// What developers and members are not shown, they cannot do by posting the form either.
async fn roles_see_and_reach_only_what_they_may(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, _) = acme(&srv).await;
    let (dev, mem) = ("dev@acme.example", "mem@acme.example");
    srv.member(&seed.org.id, dev, Role::Developer).await;
    srv.member(&seed.org.id, mem, Role::Member).await;
    let bot = console_path(&seed, &format!("/apps/{}", seed.client_id()));

    let (mut d, apps) = sign_in(&srv, dev, &console_path(&seed, "/apps")).await;
    assert!(apps.body.contains("Create App"));
    assert!(!apps.body.contains("Audit log"));
    let app = d.get(&bot).await;
    assert!(app.body.contains("Delete app") && app.body.contains("Save changes"));
    assert!(!app.body.contains("Regenerate secret"));
    let members = d.get(&console_path(&seed, "/members")).await;
    assert_eq!(members.status, 200);
    assert!(!members.body.contains("Invite someone") && !members.body.contains("Remove"));
    let added = d.get(&console_path(&seed, "/added-apps")).await;
    assert!(!added.body.contains("Find app") && !added.body.contains(">Remove<"));
    let csrf = app.field("csrf").unwrap();
    let regenerated = d
        .post(
            &format!("{bot}/secret"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct1"),
                ("grace_seconds", "0"),
            ],
        )
        .await;
    assert_eq!(regenerated.status, 403, "{}", regenerated.body);
    assert!(regenerated.body.contains("regenerate app secrets"));
    let invited = d
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct2"),
                ("email", "x@acme.example"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(invited.status, 403, "{}", invited.body);
    let added = d
        .post(
            &console_path(&seed, "/added-apps"),
            &[
                ("csrf", &csrf),
                ("client_id", seed.client_id()),
                ("scope", "trades:read"),
            ],
        )
        .await;
    assert_eq!(added.status, 403, "{}", added.body);
    assert_eq!(d.get(&console_path(&seed, "/audit")).await.status, 403);

    let (mut m, apps) = sign_in(&srv, mem, &console_path(&seed, "/apps")).await;
    assert!(!apps.body.contains("Create App"));
    let app = m.get(&bot).await;
    assert!(!app.body.contains("Save changes") && !app.body.contains("Delete app"));
    let tokens = m.get(&console_path(&seed, "/api-tokens")).await;
    assert!(tokens.body.contains("Create token"));
    assert!(
        !tokens.body.contains("grantor:members"),
        "scopes within the role"
    );
    let csrf = tokens.field("csrf").unwrap();
    let created = m
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, "once_direct3", "Sneaky"),
        )
        .await;
    assert_eq!(created.status, 403, "{}", created.body);
    let deleted = m.post(&format!("{bot}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status, 403);
    let token = m
        .post(
            &console_path(&seed, "/api-tokens"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct4"),
                ("name", "too much"),
                ("scope", "grantor:members"),
                ("expiry_days", "7"),
            ],
        )
        .await;
    assert_eq!(
        token.status, 422,
        "beyond the role: refused beside the form"
    );
    // Nothing changed: the old secret works, no app was made.
    let (status, _) = client_credentials(&srv, seed.client_id(), seed.secret(), None).await;
    assert_eq!(status, 200);
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    assert!(!apps.iter().any(|a| a.name == "Sneaky"));
    // A form without this session's CSRF token changes nothing either.
    let forged = m
        .post(&format!("{bot}/delete"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("Form expired"));
}

/// An invitation link is single use, needs no session, and an existing user accepts it by
/// signing in as the invited account.
async fn invitations_are_single_use(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut o, members) = sign_in(&srv, &owner, &console_path(&seed, "/members")).await;
    let invite = |email: &'static str, role: &'static str, page: &Page| {
        let csrf = page.field("csrf").unwrap();
        let once = page.field("once").unwrap();
        (csrf, once, email, role)
    };
    let (csrf, once, email, role) = invite("neo@acme.example", "member", &members);
    let page = o
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("email", email),
                ("role", role),
            ],
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.body);
    let start = page.body.find("/invitations/gr_inv_").unwrap();
    let end = start + page.body[start..].find('<').unwrap();
    let path = page.body[start..end].to_string();

    let mut neo = srv.browser();
    let join = neo.get(&path).await;
    assert_eq!(join.status, 200, "{}", join.body);
    let csrf = join.field("csrf").unwrap();
    let short = neo
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Neo"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 8 characters"));
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Neo"),
        ("password", "a long new password"),
        ("password_again", "a long new password"),
    ];
    let joined = neo.post(&path, &form).await;
    assert_eq!(joined.status, 303);
    assert!(joined.location.unwrap().starts_with("/login?return_to="));
    let again = neo.post(&path, &form).await;
    assert_eq!(again.status, 410);
    assert_eq!(neo.get(&path).await.status, 410);
    let user = srv
        .state
        .store
        .user_by_email("neo@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name, "Neo");

    // An existing user of another organization joins by signing in.
    let globex = srv.seed("globex").await;
    let gus = "gus@globex.example";
    srv.member(&globex.org.id, gus, Role::Owner).await;
    let members = o.get(&console_path(&seed, "/members")).await;
    let (csrf, once, email, role) = invite(gus, "developer", &members);
    let page = o
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("email", email),
                ("role", role),
            ],
        )
        .await;
    let start = page.body.find("/invitations/gr_inv_").unwrap();
    let end = start + page.body[start..].find('<').unwrap();
    let path = page.body[start..end].to_string();
    let (mut g, _) = sign_in(&srv, gus, &path).await;
    let join = g.get(&path).await;
    assert!(join.body.contains("Join acme</button>"), "{}", join.body);
    let csrf = join.field("csrf").unwrap();
    let joined = g.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(joined.status, 303);
    let memberships = srv
        .state
        .store
        .memberships_of_user(
            &srv.state
                .store
                .user_by_email(gus)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(memberships.len(), 2);
    assert!(
        memberships
            .iter()
            .any(|m| m.org_id == seed.org.id && m.role == Role::Developer)
    );
}

/// An organization keeps an owner: the only one can neither step down nor be removed.
async fn the_only_owner_stays(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut o, members) = sign_in(&srv, &owner, &console_path(&seed, "/members")).await;
    let csrf = members.field("csrf").unwrap();
    let me = Directory::user_by_email(&srv.state.store, &owner)
        .await
        .unwrap()
        .unwrap()
        .id;
    let demoted = o
        .post(
            &console_path(&seed, &format!("/members/{me}/role")),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert_eq!(demoted.status, 422);
    assert!(demoted.body.contains("only owner"), "{}", demoted.body);
    let removed = o
        .post(
            &console_path(&seed, &format!("/members/{me}/remove")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 422);
    srv.member(&seed.org.id, "otto@acme.example", Role::Owner)
        .await;
    let demoted = o
        .post(
            &console_path(&seed, &format!("/members/{me}/role")),
            &[("csrf", &csrf), ("role", "developer")],
        )
        .await;
    assert_eq!(
        demoted.status, 303,
        "with another owner, stepping down works"
    );
}

/// The audit log pages back in time and filters by actor (an email works), action and
/// object; a member cannot read it.
async fn the_audit_log_is_filtered_and_paged(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let op = Caller::operator();
    for i in 0..30 {
        srv.state
            .manager
            .create_api_token(
                &op,
                &seed.org.id,
                &owner,
                grantor_core::manage::NewApiToken {
                    name: format!("token {i}"),
                    scopes: vec!["trades:read".into()],
                    expires_in: None,
                },
            )
            .await
            .unwrap();
    }
    let audit = console_path(&seed, "/audit");
    let (mut o, first) = sign_in(&srv, &owner, &audit).await;
    assert_eq!(
        first.body.matches("<tr>").count(),
        26,
        "a header and 25 events"
    );
    let start = first.body.find("/audit?").expect("a link to older events");
    let end = start + first.body[start..].find('"').unwrap();
    let older = first.body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = o
        .get(&format!("/console/orgs/{}{older}", seed.org.id))
        .await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Newest events") && !second.body.contains("Older events"));
    let tokens = |page: &Page| page.body.matches("api_token.create").count();
    assert_eq!(tokens(&first) + tokens(&second), 30, "each event once");
    let filtered = o
        .get(&format!(
            "{audit}?action=app.create&target={}",
            seed.client_id()
        ))
        .await;
    assert_eq!(
        filtered.body.matches("<tr>").count(),
        2,
        "header and one event"
    );
    let by_owner = o.get(&format!("{audit}?actor={owner}")).await;
    assert!(
        by_owner.body.contains("No event matches."),
        "the owner did nothing yet"
    );
    let by_cli = o.get(&format!("{audit}?actor=cli&action=member.put")).await;
    assert!(by_cli.body.contains(&owner));
    srv.member(&seed.org.id, "mem@acme.example", Role::Member)
        .await;
    let (mut m, _) = sign_in(&srv, "mem@acme.example", &console_path(&seed, "/apps")).await;
    assert_eq!(m.get(&audit).await.status, 403);
}

/// Deleting an app takes its confirmation page; removing an added app stops its tokens there.
async fn deleting_an_app_and_removing_access(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let doomed = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.org.id,
            support::server_app("doomed", &["trades:read"]),
        )
        .await
        .unwrap();
    let doomed_path = console_path(&seed, &format!("/apps/{}", doomed.app.client_id));
    let (mut o, _) = sign_in(&srv, &owner, &doomed_path).await;
    let confirm = o.get(&format!("{doomed_path}/delete")).await;
    assert!(confirm.body.contains("Delete doomed?"), "{}", confirm.body);
    let csrf = confirm.field("csrf").unwrap();
    let deleted = o
        .post(&format!("{doomed_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, 303);
    let listed = o.follow(deleted).await;
    assert!(listed.body.contains("The app was deleted.") && !listed.body.contains("doomed"));
    assert_eq!(o.get(&doomed_path).await.status, 404);

    let (status, _) = client_credentials(&srv, seed.client_id(), seed.secret(), None).await;
    assert_eq!(status, 200);
    let removed = o
        .post(
            &console_path(&seed, &format!("/added-apps/{}/remove", seed.client_id())),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let (status, body) = client_credentials(&srv, seed.client_id(), seed.secret(), None).await;
    assert_ne!(status, 200, "no longer added: {body}");
}

crate::both_backends!(
    a_double_submitted_wizard_makes_one_app,
    a_refused_wizard_can_be_corrected,
    roles_see_and_reach_only_what_they_may,
    invitations_are_single_use,
    the_only_owner_stays,
    the_audit_log_is_filtered_and_paged,
    deleting_an_app_and_removing_access,
    forms_show_each_refusal_beside_its_field,
);
