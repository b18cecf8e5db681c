//! Organizations that require a second factor (issue 20, point 7), and `acr`/`acr_values`
//! (point 8): an owner turns the rule on through the API; a member signing in to the
//! organization's app with a password alone is led to set up an authenticator app and then
//! goes on, with `amr` and `acr` saying so; the console and the API-token exchange refuse
//! users without one; a developer cannot change the rule; `acr_values` steps a sign-in up.

use crate::both_backends;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth::{code_in, decode_payload};
use crate::support::{Backend, PASSWORD, SignInSeed, TestServer, WEB_REDIRECT};
use grantor_core::clock::ManualClock;
use grantor_core::manage::NewApiToken;
use grantor_core::model::{Caller, Role};
use grantor_core::{Clock, SystemClock, totp};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    a_member_without_a_second_factor_is_led_to_set_one_up_then_signs_in_with_it,
    the_console_and_api_tokens_of_the_organization_need_a_second_factor,
    only_owners_change_the_rule_and_owners_see_who_has_a_second_factor,
    acr_values_steps_a_password_sign_in_up_or_fails_without_a_factor,
);

const OWNER: &str = "owner@acme.example";

fn text_after(page: &Page, open: &str) -> Option<String> {
    let rest = page.body.split(open).nth(1)?;
    Some(rest.split('<').next()?.to_string())
}

async fn spawn(backend: Backend) -> (TestServer, SignInSeed, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    srv.member(&seed.seed.org.id, OWNER, Role::Owner).await;
    (srv, seed, clock)
}

/// The owner turns the rule on through the management API (with a token exchanged before:
/// the owner has no second factor, and after the rule would get none).
async fn require(srv: &TestServer, seed: &SignInSeed, on: bool) -> Value {
    let owner = srv
        .api_as(
            &seed.seed.org.id,
            OWNER,
            &["grantor:members", "grantor:audit"],
        )
        .await;
    let path = format!("/api/v1/orgs/{}", seed.seed.org.id);
    let org = owner
        .patch(&path, json!({"require_second_factor": on}))
        .await
        .expect(200);
    let events = owner
        .audit_events(&seed.seed.org.id, "action=organization.update")
        .await
        .expect(200);
    assert_eq!(
        events["items"][0]["details"]["require_second_factor"], on,
        "{events}"
    );
    org
}

/// Sets up an authenticator app on the security page `page` (the browser is signed in);
/// returns the page after the confirmation and the app's secret.
async fn set_up(browser: &mut HttpSession, page: &Page, clock: &ManualClock) -> (Page, Vec<u8>) {
    let key = text_after(page, "<code id=\"totp-secret\">").expect("a key to type in");
    let secret = totp::from_base32(&key).unwrap();
    let csrf = page.field("csrf").unwrap();
    let code = totp::code(&secret, totp::step_at(clock.now()));
    let mut form = vec![("csrf", csrf.clone()), ("code", code)];
    for name in ["return_to", "required"] {
        if let Some(v) = page.field(name) {
            form.push((name, v));
        }
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let done = browser.post("/account/security/totp", &form).await;
    assert_eq!(done.status, 200, "{}", done.body);
    clock.advance(totp::STEP);
    (done, secret)
}

/// Follows `page` to the app (approving if asked), exchanges the code; the ID token's claims.
async fn id_token_after(
    srv: &TestServer,
    seed: &SignInSeed,
    browser: &mut HttpSession,
    page: Page,
) -> Value {
    let mut page = browser.follow(page).await;
    if page.body.contains("action=\"/consent\"") {
        page = browser.decide(&page, true, &[], None).await;
    }
    let location = page
        .location
        .unwrap_or_else(|| panic!("back to the app: {} {}", page.status, page.body));
    assert!(location.starts_with(WEB_REDIRECT), "{location}");
    let code = code_in(&location);
    let (status, body) = srv
        .oauth()
        .exchange_code(seed.web_basic(), &code, WEB_REDIRECT)
        .await;
    assert_eq!(status, 200, "{body}");
    decode_payload(body["id_token"].as_str().unwrap())
}

async fn a_member_without_a_second_factor_is_led_to_set_one_up_then_signs_in_with_it(
    backend: Backend,
) {
    let (srv, seed, clock) = spawn(backend).await;
    let url = seed.web_authorize_url("scope=openid&state=x&nonce=n");

    // Before the rule: the password alone signs in, and says so.
    let mut before = srv.http_session();
    let first = before.get(&url).await;
    let login = before.follow(first).await;
    let answer = before.sign_in(&login, &seed.email, PASSWORD).await;
    let claims = id_token_after(&srv, &seed, &mut before, answer).await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:grantor:acr:pwd");

    let org = require(&srv, &seed, true).await;
    assert_eq!(org["require_second_factor"], true);

    // The same browser, still signed in with the password alone, is sent to set one up.
    let again = before.get(&url).await;
    let prompt = before.follow(again).await;
    assert_eq!(prompt.status, 200, "{}", prompt.body);
    assert!(
        prompt
            .body
            .contains("<strong>acme</strong> requires a second factor"),
        "{}",
        prompt.body
    );
    let return_to = prompt.field("return_to").expect("a way back");
    assert!(return_to.starts_with("/oauth2/authorize?"), "{return_to}");

    // A fresh browser: the password, then the same prompt.
    let mut browser = srv.http_session();
    let first = browser.get(&url).await;
    let login = browser.follow(first).await;
    let prompt = browser.sign_in(&login, &seed.email, PASSWORD).await;
    assert!(
        prompt.body.contains("requires a second factor"),
        "{}",
        prompt.body
    );
    let (done, _) = set_up(&mut browser, &prompt, &clock).await;
    assert!(done.body.contains("id=\"continue\""), "{}", done.body);
    let back = browser.get(&return_to).await;
    let claims = id_token_after(&srv, &seed, &mut browser, back).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:grantor:acr:mfa");

    // The first browser's password-only session is now asked for the code (a step up).
    let again = before.get(&url).await;
    let step_up = before.follow(again).await;
    assert!(
        step_up.body.contains("action=\"/login/code\""),
        "{}",
        step_up.body
    );
}

async fn the_console_and_api_tokens_of_the_organization_need_a_second_factor(backend: Backend) {
    let (srv, seed, clock) = spawn(backend).await;
    let org_id = seed.seed.org.id.clone();
    let (_, api_token) = srv
        .state
        .manager
        .create_api_token(
            &Caller::operator(),
            &org_id,
            &seed.email,
            NewApiToken {
                name: "script".into(),
                scopes: vec!["trades:read".into()],
                expires_in: None,
            },
        )
        .await
        .unwrap();
    let (status, _) = srv.oauth().exchange_api_token(&api_token, None).await;
    assert_eq!(status, 200, "before the rule");

    let mut browser = srv.http_session();
    let login = browser.get("/login?return_to=%2Faccount").await;
    let account = browser.sign_in(&login, &seed.email, PASSWORD).await;
    assert_eq!(account.status, 200);
    let console = format!("/console/orgs/{org_id}/apps");
    assert_eq!(browser.get(&console).await.status, 200);

    require(&srv, &seed, true).await;

    let (status, body) = srv.oauth().exchange_api_token(&api_token, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let why = body["error_description"].as_str().unwrap_or_default();
    assert!(why.contains("requires a second factor"), "{why}");

    let refused = browser.get(&console).await;
    assert_eq!(refused.status, 303);
    let to = refused.location.clone().unwrap();
    assert!(to.starts_with("/account/security?required=acme"), "{to}");
    let prompt = browser.follow(refused).await;
    let (_, _) = set_up(&mut browser, &prompt, &clock).await;
    assert_eq!(browser.get(&console).await.status, 200, "with the factor");
    let (status, body) = srv.oauth().exchange_api_token(&api_token, None).await;
    assert_eq!(status, 200, "{body}");
}

async fn only_owners_change_the_rule_and_owners_see_who_has_a_second_factor(backend: Backend) {
    let (srv, seed, clock) = spawn(backend).await;
    let org_id = seed.seed.org.id.clone();
    srv.member(&org_id, "dev@acme.example", Role::Developer)
        .await;
    let dev = srv
        .api_as(&org_id, "dev@acme.example", &["grantor:apps"])
        .await;
    let path = format!("/api/v1/orgs/{org_id}");
    let refused = dev
        .patch(&path, json!({"require_second_factor": true}))
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let shown = dev.org(&org_id).await.expect(200);
    assert_eq!(shown["require_second_factor"], false);

    // The member sets up an app; the owner's list says who has one, a developer's does not.
    let mut browser = srv.http_session();
    let login = browser.get("/login?return_to=%2Faccount%2Fsecurity").await;
    let page = browser.sign_in(&login, &seed.email, PASSWORD).await;
    set_up(&mut browser, &page, &clock).await;
    let owner = srv.api_as(&org_id, OWNER, &["grantor:members"]).await;
    let members = owner.members(&org_id).await.expect(200);
    let factor_of = |email: &str| {
        members["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .map(|m| m["second_factor"].clone())
    };
    assert_eq!(factor_of(&seed.email), Some(json!(true)), "{members}");
    assert_eq!(factor_of(OWNER), Some(json!(false)), "{members}");
    // The CLI's command does the same as the API.
    let (ok, out, err) = crate::support::cli(
        &srv.db.url,
        &["org", "require-second-factor", "--org", "acme"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out["require_second_factor"], true);
    let (ok, out, err) = crate::support::cli(
        &srv.db.url,
        &["org", "require-second-factor", "--org", "acme", "--off"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out["require_second_factor"], false);
}

async fn acr_values_steps_a_password_sign_in_up_or_fails_without_a_factor(backend: Backend) {
    let (srv, seed, clock) = spawn(backend).await;
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["acr_values_supported"],
        json!(["urn:grantor:acr:pwd", "urn:grantor:acr:mfa"])
    );
    assert_eq!(
        discovery["amr_values_supported"],
        json!(["pwd", "otp", "hwk", "swk", "mfa"])
    );

    let mfa =
        seed.web_authorize_url("scope=openid&state=x&nonce=n&acr_values=urn%3Agrantor%3Aacr%3Amfa");
    // Without a factor: the app hears that the requirement cannot be met.
    let mut browser = srv.http_session();
    let first = browser.get(&mfa).await;
    let login = browser.follow(first).await;
    let answer = browser.sign_in(&login, &seed.email, PASSWORD).await;
    let location = answer.location.clone().unwrap_or_default();
    assert!(
        location.starts_with(WEB_REDIRECT)
            && location.contains("error=unmet_authentication_requirements")
            && location.contains("state=x"),
        "{} {location}",
        answer.status
    );

    // Asking for either level: the password is enough.
    let either = seed.web_authorize_url(
        "scope=openid&state=x&nonce=n&acr_values=urn%3Agrantor%3Aacr%3Amfa+urn%3Agrantor%3Aacr%3Apwd",
    );
    let page = browser.get(&either).await;
    let claims = id_token_after(&srv, &seed, &mut browser, page).await;
    assert_eq!(claims["acr"], "urn:grantor:acr:pwd");

    // With a factor set up, the same password-only session is asked for the code.
    let security = browser.get("/account/security").await;
    let (_, secret) = set_up(&mut browser, &security, &clock).await;
    let mut fresh = srv.http_session();
    let login = fresh.get("/login?return_to=%2Faccount").await;
    let code_page = fresh.sign_in(&login, &seed.email, PASSWORD).await;
    let csrf = code_page.field("csrf").unwrap();
    let code = totp::code(&secret, totp::step_at(clock.now()));
    clock.advance(totp::STEP);
    let signed_in = fresh
        .post(
            "/login/code",
            &[("csrf", &csrf), ("return_to", "/account"), ("code", &code)],
        )
        .await;
    assert_eq!(signed_in.status, 303);
    // A password-only session of the same user elsewhere: stepped up at the code page.
    let mut pwd_only = srv.http_session();
    // max_age forces a new sign-in once the session is older.
    clock.advance(1);
    let forced = seed.web_authorize_url("scope=openid&state=x&nonce=n&max_age=0");
    let first = fresh.get(&forced).await;
    let page = fresh.follow(first).await;
    assert!(
        page.body.contains("action=\"/login\""),
        "max_age=0 asks again"
    );
    let fresh_enough = seed.web_authorize_url("scope=openid&state=x&nonce=n&max_age=60");
    let page = fresh.get(&fresh_enough).await;
    let claims = id_token_after(&srv, &seed, &mut fresh, page).await;
    assert_eq!(
        claims["acr"], "urn:grantor:acr:mfa",
        "no new sign-in within max_age"
    );
    assert_eq!(
        claims["auth_time"].as_i64(),
        Some(clock.now() - 1),
        "{claims}"
    );
    let first = pwd_only.get(&mfa).await;
    let login = pwd_only.follow(first).await;
    let step = pwd_only.sign_in(&login, &seed.email, PASSWORD).await;
    assert!(
        step.body.contains("action=\"/login/code\""),
        "{}",
        step.body
    );
    let csrf = step.field("csrf").unwrap();
    let return_to = step.field("return_to").unwrap();
    let code = totp::code(&secret, totp::step_at(clock.now()));
    let answer = pwd_only
        .post(
            "/login/code",
            &[("csrf", &csrf), ("return_to", &return_to), ("code", &code)],
        )
        .await;
    let claims = id_token_after(&srv, &seed, &mut pwd_only, answer).await;
    assert_eq!(claims["acr"], "urn:grantor:acr:mfa");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
}
