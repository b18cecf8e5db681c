//! The organization console at `/console` in headless Chromium: the wizard, secrets shown
//! once, adding apps, invitations, API tokens; and the helpers the other console tests share
//! (`console_a11y.rs`: accessibility; `console_forms.rs`: plain HTTP on both databases).

use crate::support::chrome::{Chrome, DESKTOP};
use crate::support::{Backend, PASSWORD, Seed, TestServer};
use fantoccini::Locator;
use fantoccini::key::Key;
use grantor_core::model::{AppType, Caller, Role};
use grantor_core::store::{AppStore, Window};

/// The phone width the console must work at.
pub(crate) const PHONE: (u32, u32) = (360, 780);
/// "Skip to content" as [`describe`] names the focused element.
pub(crate) const SKIP_LINK: &str = "a \"Skip to content\"";

/// An organization `acme` (Trading API, a server app `bot` added to it) and its owner.
pub(crate) async fn acme(srv: &TestServer) -> (Seed, String) {
    let seed = srv.seed("acme").await;
    let owner = "olga@acme.example".to_string();
    srv.member(&seed.org.id, &owner, Role::Owner).await;
    (seed, owner)
}

/// A second organization, `globex`, with `user` as a developer: the console's header then
/// holds the organization switcher too.
pub(crate) async fn globex_for(srv: &TestServer, user: &str) -> Seed {
    let globex = srv.seed("globex").await;
    srv.member(&globex.org.id, user, Role::Developer).await;
    globex
}

pub(crate) fn console_path(seed: &Seed, rest: &str) -> String {
    format!("/console/orgs/{}{rest}", seed.org.id)
}

/// What the wizard is told: the kind of app (as its radio button reads), name, redirect URI
/// (none for server apps) and scopes.
pub(crate) struct WizardAnswers<'a> {
    pub(crate) kind: &'a str,
    pub(crate) name: &'a str,
    pub(crate) redirect: Option<&'a str>,
    pub(crate) scopes: &'a [&'a str],
    /// Legacy grants to opt into, as their checkboxes read.
    pub(crate) legacy: &'a [&'a str],
}

impl Chrome {
    /// Signs in through `/console`, landing on the organization's apps.
    pub(crate) async fn console_sign_in(&self, srv: &TestServer, email: &str) {
        self.goto(&srv.url("/console")).await;
        self.sign_in(email, PASSWORD).await;
        self.expect_heading("OAuth Apps").await;
    }

    /// Waits for the wizard's step `n`.
    pub(crate) async fn wizard_step(&self, n: usize) {
        let xpath =
            format!("//p[@class='step-count' and starts-with(normalize-space(.), 'Step {n} of')]");
        self.wait_for(Locator::XPath(&xpath)).await;
    }

    /// Checks the page now showing at desktop and phone width: its heading, no sideways
    /// scrolling (of the page, or of a part inside it on a phone), tables stacked into rows
    /// on a phone, no serious or critical axe-core violation; saves a screenshot of each as
    /// `target/screenshots/console/<name>-<desktop|phone>.png`.
    pub(crate) async fn check_page(&self, name: &str, heading: &str) {
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

    /// From the top of a fresh page: the first Tab reaches "Skip to content", and Enter on it
    /// puts the focus on the page's `<main>`, past the header.
    pub(crate) async fn skip_to_content(&self) {
        self.press(Key::Tab).await;
        assert_eq!(self.focused().await, SKIP_LINK, "the first Tab");
        self.press(Key::Enter).await;
        self.expect_focus("main#content").await;
    }

    /// Goes through *Create App*; returns the app ID and the secret shown (if any), leaving
    /// the browser on the "App created" page.
    pub(crate) async fn create_app(
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
        let app = AppStore::app(&srv.state.store, &client_id)
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
            let (status, body) = srv
                .oauth()
                .client_credentials(&client_id, &secret, &[])
                .await;
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
            let (status, body) = srv
                .oauth()
                .client_credentials(&client_id, &secret, &[])
                .await;
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
    let (status, _) = srv.client_credentials(&seed, &[]).await;
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
    let (status, body) = srv.client_credentials(&seed, &[]).await;
    assert_eq!(status, 401, "the old secret is refused: {body}");
    let (status, body) = srv
        .oauth()
        .client_credentials(seed.client_id(), &new_secret, &[])
        .await;
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
        let (status, body) = srv
            .oauth()
            .client_credentials(seed.client_id(), secret, &[])
            .await;
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
    let (status, _) = srv
        .client_credentials(&acme, &[("organization", &globex.org.id)])
        .await;
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
    let (status, body) = srv
        .client_credentials(&acme, &[("organization", &globex.org.id)])
        .await;
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
    let (status, body) = srv.oauth().exchange_api_token(&token, None).await;
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
    let (status, _) = srv.oauth().exchange_api_token(&token, None).await;
    assert_eq!(status, 400);
}

/// Opens the console page at `path` of `seed`'s organization and checks it (axe-core, no
/// sideways scroll, screenshot `shot`).
pub(crate) async fn visit(
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
pub(crate) async fn create_token_in_console(chrome: &Chrome, name: &str, scope: &str, shot: &str) {
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
