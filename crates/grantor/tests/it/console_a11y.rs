//! The console's accessibility in headless Chromium: axe-core on every page at desktop and
//! phone width (with screenshots), the skip link, and the wizard with the keyboard alone.

use crate::console::*;
use crate::support::chrome::{Chrome, DESKTOP, describe};
use crate::support::{self, Backend, PASSWORD, TestServer};
use fantoccini::Locator;
use fantoccini::key::Key;
use grantor_core::model::{Actor, AppType, Caller, Role};
use grantor_core::store::{AppStore, UserStore};

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
            user_id: UserStore::user_by_email(&srv.state.store, long)
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
    let web = AppStore::app(&srv.state.store, &web_id)
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
    visit(
        &chrome,
        &srv,
        &seed,
        "/registration",
        "registration",
        "Dynamic registration",
    )
    .await;

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
    let app = AppStore::app(&srv.state.store, &client_id)
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
