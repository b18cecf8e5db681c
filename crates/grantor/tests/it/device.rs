//! The device authorization grant (RFC 8628): a device gets a code through a real OpenID
//! Connect client, a person signs in at `/device` and approves it on the approval page, the
//! device's polling is paced, ends when denied or expired, and gets tokens once; only apps
//! that opted in may use it, and user codes cannot be guessed quickly.

use crate::both_backends;
use crate::console::PHONE;
use crate::support::chrome::Chrome;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth::enc;
use crate::support::oauth_http::OAuthHttp;
use crate::support::{Backend, NATIVE_REDIRECT, PASSWORD, SignInSeed, TestServer, WEB_REDIRECT};
use crate::support::{cli, user_app};
use fantoccini::Locator;
use grantor_core::clock::ManualClock;
use grantor_core::manage::AppWithSecret;
use grantor_core::model::{AppType, Caller, Role};
use grantor_core::store::{DeviceCodeRecord, DeviceCodeStore};
use grantor_core::{Clock, SystemClock};
use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata};
use openidconnect::{
    ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use serde_json::{Value, json};
use std::sync::Arc;

both_backends!(
    an_openid_client_connects_a_device_a_person_approved,
    polling_is_paced_and_ends_when_denied_or_expired,
    only_apps_that_opted_in_use_the_device_grant,
    wrong_user_codes_are_throttled_per_address,
    the_store_bounds_the_authorizations_waiting_per_app,
);

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A server whose clock moves only when the test says, with `acme` seeded.
async fn spawn(backend: Backend) -> (TestServer, Arc<ManualClock>, SignInSeed) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let srv = TestServer::spawn_with(backend, clock.clone(), |_| {}).await;
    let seed = srv.seed_sign_in("acme").await;
    (srv, clock, seed)
}

/// An app of `acme` of `app_type` that opted into the device grant.
async fn device_app(srv: &TestServer, seed: &SignInSeed, app_type: AppType) -> AppWithSecret {
    let redirect = match app_type {
        AppType::Native => NATIVE_REDIRECT,
        _ => WEB_REDIRECT,
    };
    srv.state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.seed.org.id,
            user_app(app_type, "Trading TV", redirect, &[]).device_grant(true),
        )
        .await
        .unwrap()
}

/// How an app authenticates: Basic credentials, and form fields.
type Credentials<'a> = (Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);

/// `client_id` in the body for a public app, Basic for a confidential one.
fn credentials(app: &AppWithSecret) -> Credentials<'_> {
    match crate::support::oauth::basic(app) {
        Some(basic) => (Some(basic), Vec::new()),
        None => (None, vec![("client_id", app.app.client_id.as_str())]),
    }
}

/// A device authorization request by hand; returns status and body.
async fn start(srv: &TestServer, app: &AppWithSecret, scope: &str) -> (u16, Value) {
    let (basic, mut form) = credentials(app);
    form.push(("scope", scope));
    let (status, _, body) = srv
        .oauth()
        .post("/oauth2/device_authorization", basic, &form)
        .await;
    (status, body)
}

/// One poll of the token endpoint; returns status and body.
async fn poll(srv: &TestServer, app: &AppWithSecret, device_code: &str) -> (u16, Value) {
    let (basic, mut form) = credentials(app);
    form.extend([("grant_type", GRANT_TYPE), ("device_code", device_code)]);
    srv.oauth().token(basic, &form).await
}

/// The refusal a poll gets: status and `error`.
async fn refusal(srv: &TestServer, app: &AppWithSecret, device_code: &str) -> (u16, String) {
    let (status, body) = poll(srv, app, device_code).await;
    (status, body["error"].as_str().unwrap_or("none").to_string())
}

/// `/device` as `email`: signs in on the way (the page sends them to sign in and back),
/// then types `typed` into the form; returns the page that answers.
async fn enter_code(session: &mut HttpSession, email: &str, typed: &str) -> Page {
    let page = session
        .get(&format!("/device?user_code={}", enc(typed)))
        .await;
    let mut page = session.follow(page).await;
    if page.body.contains("action=\"/login\"") {
        page = session.sign_in(&page, email, PASSWORD).await;
    }
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<h1>Connect a device</h1>"),
        "{}",
        page.body
    );
    let csrf = page.field("csrf").unwrap();
    session
        .post("/device", &[("csrf", &csrf), ("user_code", typed)])
        .await
}

/// The alert on a page.
fn alert(page: &Page) -> String {
    page.body
        .split("role=\"alert\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_string()
}

async fn an_openid_client_connects_a_device_a_person_approved(backend: Backend) {
    let (srv, clock, seed) = spawn(backend).await;
    let app = device_app(&srv, &seed, AppType::Native).await;
    for doc in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = srv.get_json(doc).await;
        assert_eq!(
            doc["device_authorization_endpoint"],
            srv.url("/oauth2/device_authorization")
        );
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(GRANT_TYPE)),
            "{doc}"
        );
    }
    let http = OAuthHttp(&srv.http);
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(srv.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.app.client_id.clone()),
        None,
    )
    .set_device_authorization_url(
        DeviceAuthorizationUrl::new(srv.url("/oauth2/device_authorization")).unwrap(),
    );
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("trades:read".into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    let user_code = details.user_code().secret().clone();
    assert!(
        user_code.len() == 9
            && user_code.as_bytes()[4] == b'-'
            && user_code
                .chars()
                .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(details.verification_uri().as_str(), srv.url("/device"));
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    assert_eq!(complete, srv.url(&format!("/device?user_code={user_code}")));
    assert_eq!(details.expires_in().as_secs(), 600);
    assert_eq!(details.interval().as_secs(), 5);
    let device_code = details.device_code().secret().clone();
    assert!(device_code.starts_with("gr_dc_"), "{device_code}");

    // Nobody has answered yet.
    assert_eq!(
        refusal(&srv, &app, &device_code).await,
        (400, "authorization_pending".into())
    );

    // The person follows verification_uri_complete: signs in, finds the code filled in,
    // checks it against the device and approves all but one scope.
    let mut session = srv.http_session();
    let page = session.get(&complete).await;
    let page = session.follow(page).await;
    let page = session.sign_in(&page, &seed.email, PASSWORD).await;
    assert_eq!(page.field("user_code").as_deref(), Some(user_code.as_str()));
    let csrf = page.field("csrf").unwrap();
    let approval = session
        .post(
            "/device",
            &[("csrf", &csrf), ("user_code", &user_code.to_lowercase())],
        )
        .await;
    assert_eq!(approval.status, 200, "{}", approval.body);
    assert!(
        approval.body.contains("Trading TV")
            && approval.body.contains(&user_code)
            && approval.body.contains("Read trades"),
        "{}",
        approval.body
    );
    let done = session
        .decide(&approval, true, &["openid", "profile"], None)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Device connected"), "{}", done.body);

    // The client polls (its waits move the server's clock) and gets the person's tokens.
    // (Pacing, which applies only while no answer is given, is checked by hand below.)
    let token = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(
            &http,
            |wait| {
                clock.advance(i64::try_from(wait.as_secs()).unwrap());
                std::future::ready(())
            },
            None,
        )
        .await
        .expect("the device gets its tokens");
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        scopes,
        ["openid", "profile"],
        "the unchecked scope is left out"
    );
    let id_token = token.id_token().expect("an ID token for openid");
    let claims = id_token
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("the ID token verifies");
    assert!(claims.auth_time().is_some());
    let info = srv
        .http
        .get(srv.url("/oauth2/userinfo"))
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(info["email"], Value::Null, "email was not asked for");
    assert_eq!(info["sub"], claims.subject().as_str());

    // The device code works once; a replay revokes what it got.
    let (status, body) = poll(&srv, &app, &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refresh = token.refresh_token().expect("a refresh token").secret();
    let (basic, mut form) = credentials(&app);
    form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    let (status, body) = srv.oauth().token(basic, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The approval is remembered like any other, on the account page.
    let account = session.get("/account").await;
    assert!(account.body.contains("Trading TV"));
}

async fn polling_is_paced_and_ends_when_denied_or_expired(backend: Backend) {
    let (srv, clock, seed) = spawn(backend).await;
    let app = device_app(&srv, &seed, AppType::Web).await;
    let (status, started) = start(&srv, &app, "openid trades:read").await;
    assert_eq!(status, 200, "{started}");
    let device_code = started["device_code"].as_str().unwrap();
    let pending = (400, "authorization_pending".to_string());
    let slow_down = (400, "slow_down".to_string());
    assert_eq!(refusal(&srv, &app, device_code).await, pending);
    assert_eq!(refusal(&srv, &app, device_code).await, slow_down);
    // The interval grew by 5 seconds, to 10, and again with that refusal, to 15.
    clock.advance(9);
    assert_eq!(refusal(&srv, &app, device_code).await, slow_down);
    clock.advance(14);
    assert_eq!(refusal(&srv, &app, device_code).await, slow_down);
    clock.advance(20);
    assert_eq!(refusal(&srv, &app, device_code).await, pending);

    // The person denies: the device hears it for as long as it asks.
    let mut session = srv.http_session();
    let user_code = started["user_code"].as_str().unwrap();
    let approval = enter_code(&mut session, &seed.email, user_code).await;
    let done = session.decide(&approval, false, &[], None).await;
    assert!(done.body.contains("Device not connected"), "{}", done.body);
    for _ in 0..2 {
        clock.advance(30);
        assert_eq!(
            refusal(&srv, &app, device_code).await,
            (400, "access_denied".into())
        );
    }
    // An answered code cannot be answered again.
    let again = enter_code(&mut session, &seed.email, user_code).await;
    assert_eq!(again.status, 400);
    assert!(alert(&again).contains("not valid"), "{}", again.body);

    // Ten minutes pass without an answer: the code has expired, on both sides.
    let (_, late) = start(&srv, &app, "trades:read").await;
    let late_code = late["device_code"].as_str().unwrap();
    clock.advance(600);
    assert_eq!(
        refusal(&srv, &app, late_code).await,
        (400, "expired_token".into())
    );
    let expired = enter_code(
        &mut session,
        &seed.email,
        late["user_code"].as_str().unwrap(),
    )
    .await;
    assert_eq!(expired.status, 400);
    assert_eq!(
        alert(&expired),
        alert(&again),
        "expired and answered codes read alike"
    );
    // And the purge takes expired codes away.
    let hash = grantor_core::secret::hash(late_code);
    assert!(
        DeviceCodeStore::device_code(&srv.state.store, &hash)
            .await
            .unwrap()
            .is_some()
    );
    srv.state
        .store
        .purge_expired(clock.now() + 1)
        .await
        .unwrap();
    assert!(
        DeviceCodeStore::device_code(&srv.state.store, &hash)
            .await
            .unwrap()
            .is_none()
    );
}

async fn only_apps_that_opted_in_use_the_device_grant(backend: Backend) {
    let (srv, _clock, seed) = spawn(backend).await;
    // The web app did not opt in, a server app cannot.
    let (status, body) = start(&srv, &seed.web, "openid").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let (status, _, body) = srv
        .oauth()
        .post(
            "/oauth2/device_authorization",
            seed.seed.basic(),
            &[("scope", "trades:read")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let form = [("grant_type", GRANT_TYPE), ("device_code", "gr_dc_nothing")];
    let (status, body) = srv.oauth().token(seed.web_basic(), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // Client authentication as at the token endpoint.
    let (status, _, body) = srv
        .oauth()
        .post(
            "/oauth2/device_authorization",
            Some((&seed.web.app.client_id, "gr_sec_wrong")),
            &[("scope", "openid")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    let app = device_app(&srv, &seed, AppType::Web).await;
    let (status, body) = start(&srv, &app, "openid grantor:apps").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (status, body) = start(&srv, &app, "openid offline_access").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    // Another app cannot collect this app's code.
    let (_, started) = start(&srv, &app, "openid").await;
    let other = device_app(&srv, &seed, AppType::Native).await;
    let (status, body) = poll(&srv, &other, started["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // Opting in: the API lists the grant under grant_types, not as legacy; the CLI too.
    let owner = "owner@acme.example";
    srv.member(&seed.seed.org.id, owner, Role::Owner).await;
    let api = srv.api_as("acme", owner, &["grantor:apps"]).await;
    let body = json!({
        "type": "native", "name": "Set-top box", "redirect_uris": [NATIVE_REDIRECT],
        "scopes": ["openid"], "allow_grants": ["device_code"],
    });
    let created = api.create_app("acme", body).await.expect(201);
    assert!(
        created["grant_types"]
            .as_array()
            .unwrap()
            .contains(&json!(GRANT_TYPE)),
        "{created}"
    );
    assert_eq!(created["legacy_grant_types"], json!([]));
    let body = json!({"type": "server", "name": "Job", "allow_grants": ["device_code"]});
    let refused = api.create_app("acme", body).await;
    assert_eq!(
        refused.refused_fields(),
        ["allow_grants"],
        "{}",
        refused.body
    );

    let (ok, cli_app, err) = cli(
        &srv.db.url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "web",
            "--name",
            "Kiosk",
            "--redirect-uri",
            WEB_REDIRECT,
            "--scope",
            "openid",
            "--allow-grant",
            "device_code",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        cli_app["grant_types"]
            .as_array()
            .unwrap()
            .contains(&json!(GRANT_TYPE)),
        "{cli_app}"
    );
}

async fn wrong_user_codes_are_throttled_per_address(backend: Backend) {
    let (srv, clock, seed) = spawn(backend).await;
    let app = device_app(&srv, &seed, AppType::Native).await;
    let (_, started) = start(&srv, &app, "openid").await;
    let user_code = started["user_code"].as_str().unwrap();
    let mut session = srv.http_session();
    // Sign in once (the first code typed goes through the sign-in page).
    let first = enter_code(&mut session, &seed.email, "BBBB-BBBB").await;
    assert_eq!(first.status, 400);
    let wrong = alert(&first);
    assert!(wrong.contains("not valid"), "{wrong}");
    let mut throttled = None;
    for guess in [
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "GGGG-GGGG",
        "HHHH-HHHH",
        "JJJJ-JJJJ",
        "KKKK-KKKK",
        "LLLL-LLLL",
        "MMMM-MMMM",
        "NNNN-NNNN",
        "PPPP-PPPP",
    ] {
        let page = enter_code(&mut session, &seed.email, guess).await;
        if page.status == 429 {
            throttled = Some(page);
            break;
        }
        assert_eq!((page.status, alert(&page)), (400, wrong.clone()));
    }
    let throttled = throttled.expect("repeated wrong codes are throttled");
    assert!(
        alert(&throttled).contains("Try again in"),
        "{}",
        throttled.body
    );
    // While throttled, even the right code waits.
    let right = enter_code(&mut session, &seed.email, user_code).await;
    assert_eq!(right.status, 429);
    clock.advance(2);
    let right = enter_code(&mut session, &seed.email, user_code).await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(right.body.contains("action=\"/device/decide\""));
}

/// The bound on device authorizations an app may have waiting (1,000 in Grantor; 2 here),
/// as the SQL counts them: neither expired nor exchanged. A user code in use is a conflict.
async fn the_store_bounds_the_authorizations_waiting_per_app(backend: Backend) {
    let (srv, clock, seed) = spawn(backend).await;
    let app = device_app(&srv, &seed, AppType::Native).await;
    let store = &srv.state.store;
    let now = clock.now();
    let record = |n: u8, expires_at: i64| DeviceCodeRecord {
        device_code_hash: format!("device-{n}"),
        user_code_hash: format!("user-{n}"),
        client_id: app.app.client_id.clone(),
        scopes: grantor_core::scope::ScopeSet::parse("openid").unwrap(),
        resources: Vec::new(),
        interval: 5,
        created_at: now,
        expires_at,
        last_polled_at: None,
        decision: None,
        consumed: false,
    };
    assert!(
        store
            .insert_device_code(&record(1, now - 1), 2, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .insert_device_code(&record(2, now + 600), 2, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .insert_device_code(&record(3, now + 600), 2, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_device_code(&record(4, now + 600), 2, now)
            .await
            .unwrap(),
        "two waiting: the third is refused (the expired one does not count)"
    );
    let mut taken = record(5, now + 600);
    taken.user_code_hash = "user-2".into();
    let conflict = store.insert_device_code(&taken, 10, now).await;
    assert!(
        matches!(conflict, Err(grantor_core::StoreError::Conflict(_))),
        "{conflict:?}"
    );
}

/// The pages a person sees in a real browser, on a phone: sent to sign in and back with the
/// code filled in, a wrong code reported beside the field, the approval page showing the code;
/// each fits the screen and has no serious accessibility violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_pages_work_in_a_browser() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let (srv, _clock, seed) = spawn(Backend::Sqlite).await;
    let app = device_app(&srv, &seed, AppType::Native).await;
    let (_, started) = start(&srv, &app, "openid trades:read").await;
    let user_code = started["user_code"].as_str().unwrap();
    let check = |page: &'static str| {
        let chrome = &chrome;
        async move {
            chrome.assert_fits(page).await;
            let violations = chrome.axe().await;
            assert!(violations.is_empty(), "{page}:\n{}", violations.join("\n"));
        }
    };
    chrome.resize(PHONE).await;
    chrome
        .goto(started["verification_uri_complete"].as_str().unwrap())
        .await;
    chrome.sign_in(&seed.email, PASSWORD).await;
    chrome.expect_heading("Connect a device").await;
    check("the device page").await;
    let field = chrome.field("Code from your device").await;
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(user_code)
    );

    field.clear().await.unwrap();
    field.send_keys("BBBB-BBBB").await.unwrap();
    chrome.button("Continue").await.click().await.unwrap();
    chrome.wait_for(Locator::Css("[role=alert]")).await;
    check("the device page with a wrong code").await;

    let field = chrome.field("Code from your device").await;
    field.clear().await.unwrap();
    field.send_keys(user_code).await.unwrap();
    chrome.button("Continue").await.click().await.unwrap();
    chrome
        .expect_heading("Trading TV wants to access your account")
        .await;
    check("the device's approval page").await;
    chrome.button("Allow").await.click().await.unwrap();
    chrome.expect_heading("Device connected").await;
    check("the device connected page").await;
    let (status, body) = poll(&srv, &app, started["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
}
