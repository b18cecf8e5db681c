//! The device authorization grant (RFC 8628), for devices that cannot show a browser: the
//! device asks for a device code and a user code ([`authorize`]), shows the user code, and
//! polls the token endpoint ([`exchange`]) while the person types the code on the `/device`
//! page of another device and answers there (`crate::device`).
//!
//! Both codes are stored hashed. The device code is a 256-bit secret; the user code is short
//! enough to type, so guessing it is throttled on the page. A device code works once.

use super::{parse_resources, parse_scope};
use crate::model::GrantType;
use crate::params::Params;
use crate::provider::{Provider, Subject, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{
    Client, DeviceCodeRecord, DeviceCodeStore, DeviceDecision, GrantStore, Registry, SingleUse,
    UserStore,
};
use crate::token::TokenResponse;
use crate::{CryptoError, ErrorCode, OAuthError, StoreError, secret};
use serde::Serialize;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long a device authorization waits for the person and the device, seconds.
pub const DEVICE_CODE_TTL: i64 = 600;
/// The polling interval a device starts with, and what each `slow_down` adds (RFC 8628 3.5).
pub const POLL_INTERVAL: i64 = 5;
/// Device authorizations one app may have waiting at once: each is a row, and an app (or
/// whoever holds a public app's ID) must not be able to fill the database.
pub const MAX_PENDING_PER_APP: i64 = 1_000;
/// Where the person types the user code, under the issuer.
pub const VERIFICATION_PATH: &str = "/device";

/// Consonants only, without ones easily confused (RFC 8628 6.1): no vowels to spell words,
/// no 0/O or 1/I to mistake. 20^8 codes, about 34 bits.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

/// A user code, normalised: eight letters of [`USER_CODE_ALPHABET`], upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(..)")
    }
}

impl UserCode {
    /// A fresh code from the OS RNG, every letter equally likely.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut code = String::with_capacity(USER_CODE_LEN);
        while code.len() < USER_CODE_LEN {
            let bytes: [u8; 16] = secret::random_bytes()?;
            // Bytes below 240 (12 × 20) only, so that `% 20` favours no letter.
            for b in bytes.into_iter().filter(|b| *b < 240) {
                if code.len() < USER_CODE_LEN {
                    let letter = USER_CODE_ALPHABET[usize::from(b % 20)];
                    code.push(char::from(letter));
                }
            }
        }
        Ok(Self(code))
    }

    /// What a person typed, read forgivingly: either case, dashes and spaces anywhere.
    /// `None` when it cannot be a user code at all.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 4 * USER_CODE_LEN {
            return None;
        }
        let code: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid =
            code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// As shown to people: `BCDF-GHJK`.
    pub fn display(&self) -> String {
        let (first, second) = self
            .0
            .split_at_checked(USER_CODE_LEN / 2)
            .unwrap_or_default();
        format!("{first}-{second}")
    }

    /// The stored form.
    pub fn hash(&self) -> String {
        secret::hash(&self.0)
    }
}

/// The device authorization request (RFC 8628 3.1), after client authentication.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
}

impl AuthorizationRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            scopes: parse_scope(params)?.unwrap_or_default(),
            resources: parse_resources(params),
        })
    }
}

/// The device authorization response (RFC 8628 3.2).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a device authorization for `client`, which must have opted into the device grant,
/// for scopes it may ask for (checked as the authorization endpoint checks them).
pub async fn authorize<S: Registry + DeviceCodeStore>(
    provider: &Provider<S>,
    client: &Client,
    req: AuthorizationRequest,
) -> Result<DeviceAuthorization, OAuthError> {
    let app = &client.app;
    if !app.allows(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client(
            "the device grant is not enabled for this app",
        ));
    }
    if req.scopes.is_empty() {
        return Err(OAuthError::invalid_scope("ask for at least one scope"));
    }
    if req.scopes.has_management() {
        return Err(OAuthError::invalid_scope(
            "Grantor's management scopes are never granted through sign-in",
        ));
    }
    let missing = req.scopes.missing_from(&app.scopes);
    if !missing.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "this app may not ask for: {}",
            missing.join(" ")
        )));
    }
    provider.resolve_resources(&req.resources).await?;
    let now = provider.clock.now();
    let device_code = secret::generate(secret::Kind::DeviceCode)?;
    // A user code still in use by another authorization is drawn again.
    for _ in 0..3 {
        let user_code = UserCode::generate()?;
        let record = DeviceCodeRecord {
            device_code_hash: secret::hash(&device_code),
            user_code_hash: user_code.hash(),
            client_id: app.client_id.clone(),
            scopes: req.scopes.clone(),
            resources: req.resources.clone(),
            interval: POLL_INTERVAL,
            created_at: now,
            expires_at: now + DEVICE_CODE_TTL,
            last_polled_at: None,
            decision: None,
            consumed: false,
        };
        match provider
            .store
            .insert_device_code(&record, MAX_PENDING_PER_APP, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let mut e = OAuthError::new(
                    ErrorCode::SlowDown,
                    "this app has too many device authorizations waiting; try again later",
                );
                e.retry_after = Some(60);
                return Err(e);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        let verification_uri = format!("{}{VERIFICATION_PATH}", provider.settings.issuer);
        let verification_uri_complete =
            format!("{verification_uri}?user_code={}", user_code.display());
        return Ok(DeviceAuthorization {
            device_code,
            user_code: user_code.display(),
            verification_uri,
            verification_uri_complete,
            expires_in: DEVICE_CODE_TTL,
            interval: POLL_INTERVAL,
        });
    }
    Err(OAuthError::server_error(
        "three fresh user codes in a row were in use",
    ))
}

/// The device access token request (RFC 8628 3.4).
#[derive(Clone)]
pub struct Request {
    pub device_code: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").finish_non_exhaustive()
    }
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            device_code: params.require("device_code")?.to_string(),
        })
    }
}

/// A poll of the token endpoint: `authorization_pending` until the person answers,
/// `slow_down` when polled within the interval (which then grows for this code),
/// `access_denied` or `expired_token` at the end, and once approved the person's tokens,
/// as the code flow issues them, once.
pub async fn exchange<S: Registry + GrantStore + UserStore + DeviceCodeStore>(
    provider: &Provider<S>,
    client: &Client,
    req: Request,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || OAuthError::invalid_grant("the device code is invalid");
    if !secret::has_shape(&req.device_code, secret::Kind::DeviceCode) {
        return Err(invalid());
    }
    let now = provider.clock.now();
    let hash = secret::hash(&req.device_code);
    let code = provider
        .store
        .device_code(&hash)
        .await?
        .ok_or_else(invalid)?;
    if code.client_id != client.app.client_id {
        return Err(OAuthError::invalid_grant(
            "the device code was issued to another app",
        ));
    }
    if code.consumed {
        return consume(provider, client, &hash, now, dpop).await;
    }
    if code.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired; start again",
        ));
    }
    match code.decision {
        None => {
            if code
                .last_polled_at
                .is_some_and(|last| now - last < code.interval)
            {
                let interval = code.interval + POLL_INTERVAL;
                provider
                    .store
                    .record_device_poll(&hash, now, interval)
                    .await?;
                return Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    format!("polled too often; wait {interval} seconds between requests"),
                ));
            }
            provider
                .store
                .record_device_poll(&hash, now, code.interval)
                .await?;
            Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the user has not answered yet",
            ))
        }
        Some(DeviceDecision::Denied) => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the request",
        )),
        Some(DeviceDecision::Approved(_)) => consume(provider, client, &hash, now, dpop).await,
    }
}

/// Uses an approved device code: the first use gets the tokens, a replay revokes them (as
/// for authorization codes, RFC 9700 4.5).
async fn consume<S: Registry + GrantStore + UserStore + DeviceCodeStore>(
    provider: &Provider<S>,
    client: &Client,
    hash: &str,
    now: i64,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = match provider.store.consume_device_code(hash, now).await? {
        SingleUse::Fresh(code) => code,
        SingleUse::Reused { grant_id } => {
            provider.store.revoke_grant(&grant_id, now).await?;
            return Err(OAuthError::invalid_grant(
                "the device code was already used; the tokens issued for it have been revoked",
            ));
        }
        SingleUse::Unknown => return Err(OAuthError::invalid_grant("the device code is invalid")),
    };
    let Some(DeviceDecision::Approved(approval)) = code.decision else {
        return Err(OAuthError::server_error(
            "a device code consumed unapproved",
        ));
    };
    if provider.store.is_grant_revoked(&approval.grant_id).await? {
        return Err(OAuthError::invalid_grant(
            "the authorization has been revoked",
        ));
    }
    let grant = UserGrant {
        subject: Subject {
            sub: approval.user_id,
            org_id: approval.org_id,
            auth_time: Some(approval.auth_time),
            method: Some(approval.method),
            grant_id: Some(approval.grant_id),
            jkt: dpop.map(str::to_string),
        },
        scopes: approval.scopes.clone(),
        resources: code.resources,
        nonce: None,
    };
    provider
        .issue_user_tokens(client, grant, &approval.scopes)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::authorize::{Decision, SignedIn};
    use crate::device::DeviceError;
    use crate::testing::{World, ok, refused, scopes};
    use std::net::{IpAddr, Ipv4Addr};

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    async fn device_app(w: &World, app_scopes: &[&str]) -> std::sync::Arc<Client> {
        w.app_with(
            crate::testing::new_app(crate::model::AppType::Native, "TV", app_scopes)
                .device_grant(true),
        )
        .await
    }

    async fn start(w: &World, app: &Client, asked: &str) -> DeviceAuthorization {
        let req = AuthorizationRequest {
            scopes: scopes(asked),
            resources: Vec::new(),
        };
        ok(authorize(&w.provider, app, req).await)
    }

    fn poll(code: &DeviceAuthorization) -> Request {
        Request {
            device_code: code.device_code.clone(),
        }
    }

    fn code_of(e: Result<TokenResponse, OAuthError>) -> ErrorCode {
        match e {
            Err(e) => e.code,
            Ok(tokens) => panic!("expected a refusal, got {tokens:?}"),
        }
    }

    fn member(w: &World) -> SignedIn {
        SignedIn {
            user_id: w.member.id.clone(),
            auth_time: w.clock.now(),
            method: crate::model::SignInMethod::Password,
        }
    }

    async fn answer(w: &World, code: &DeviceAuthorization, allow: bool, granted: &str) {
        let decision = Decision {
            allow,
            org: None,
            scopes: scopes(granted),
        };
        ok(w.provider
            .device_decide(&member(w), &code.user_code, decision, HOME)
            .await);
    }

    #[test]
    fn user_codes_are_unambiguous_and_read_forgivingly() {
        for _ in 0..200 {
            let code = ok(UserCode::generate());
            let shown = code.display();
            assert_eq!(shown.len(), 9, "{shown}");
            assert!(
                !shown.contains(['0', 'O', '1', 'I', 'A', 'E', 'U']),
                "{shown}"
            );
            assert_eq!(UserCode::parse(&shown), Some(code.clone()));
            assert_eq!(UserCode::parse(&shown.to_lowercase()), Some(code.clone()));
            assert_eq!(
                UserCode::parse(&format!(" {} ", shown.replace('-', " "))),
                Some(code)
            );
        }
        for wrong in [
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "BCDF-GH0K",
            "BCDF-GHIK",
            "",
            "BCDFGHJK!",
        ] {
            assert_eq!(UserCode::parse(wrong), None, "{wrong}");
        }
    }

    #[tokio::test]
    async fn pending_then_approved_then_tokens_once() {
        let w = World::new().await;
        // (ID tokens need an RS256 key, which the small world lacks: the integration tests
        // cover them.)
        let app = device_app(&w, &["profile", "email"]).await;
        let code = start(&w, &app, "profile email").await;
        assert_eq!(code.interval, POLL_INTERVAL);
        assert_eq!(code.expires_in, DEVICE_CODE_TTL);
        assert_eq!(code.verification_uri, "https://grantor.test/device");
        assert!(code.verification_uri_complete.ends_with(&code.user_code));
        assert!(code.device_code.starts_with("gr_dc_"));

        let pending = exchange(&w.provider, &app, poll(&code), None).await;
        assert_eq!(code_of(pending), ErrorCode::AuthorizationPending);
        answer(&w, &code, true, "profile").await;
        w.clock.advance(POLL_INTERVAL);
        let tokens = ok(exchange(&w.provider, &app, poll(&code), None).await);
        assert_eq!(tokens.scope, "profile", "unchecked scopes are left out");
        assert!(tokens.refresh_token.is_some());

        // A replay gets nothing and revokes what the first use got.
        let replay = refused(exchange(&w.provider, &app, poll(&code), None).await);
        assert!(replay.contains("already used"), "{replay}");
        let refresh = crate::grant::refresh_token::Request {
            refresh_token: tokens.refresh_token.unwrap_or_default(),
            scope: None,
            resources: Vec::new(),
        };
        let after =
            refused(crate::grant::refresh_token::exchange(&w.provider, &app, refresh, None).await);
        assert!(after.contains("revoked"), "{after}");
    }

    #[tokio::test]
    async fn polling_faster_than_the_interval_slows_the_device_down() {
        let w = World::new().await;
        let app = device_app(&w, &["profile"]).await;
        let code = start(&w, &app, "profile").await;
        let first = exchange(&w.provider, &app, poll(&code), None).await;
        assert_eq!(code_of(first), ErrorCode::AuthorizationPending);
        w.clock.advance(POLL_INTERVAL - 1);
        let fast = exchange(&w.provider, &app, poll(&code), None).await;
        assert_eq!(code_of(fast), ErrorCode::SlowDown);
        // The interval is now 10 seconds, counted from the last poll.
        w.clock.advance(POLL_INTERVAL);
        let still_fast = exchange(&w.provider, &app, poll(&code), None).await;
        assert_eq!(code_of(still_fast), ErrorCode::SlowDown);
        w.clock.advance(3 * POLL_INTERVAL);
        let patient = exchange(&w.provider, &app, poll(&code), None).await;
        assert_eq!(code_of(patient), ErrorCode::AuthorizationPending);
    }

    #[tokio::test]
    async fn a_denied_or_expired_code_ends_the_polling() {
        let w = World::new().await;
        let app = device_app(&w, &["profile"]).await;
        let denied = start(&w, &app, "profile").await;
        answer(&w, &denied, false, "profile").await;
        let said = exchange(&w.provider, &app, poll(&denied), None).await;
        assert_eq!(code_of(said), ErrorCode::AccessDenied);

        let late = start(&w, &app, "profile").await;
        w.clock.advance(DEVICE_CODE_TTL);
        let said = exchange(&w.provider, &app, poll(&late), None).await;
        assert_eq!(code_of(said), ErrorCode::ExpiredToken);
        // Nobody can answer an expired code either.
        let decision = Decision {
            allow: true,
            org: None,
            scopes: scopes("profile"),
        };
        let page = w
            .provider
            .device_decide(&member(&w), &late.user_code, decision, HOME)
            .await;
        assert!(matches!(page, Err(DeviceError::UnknownCode)), "{page:?}");
    }

    #[tokio::test]
    async fn only_apps_that_opted_in_and_only_their_scopes() {
        let w = World::new().await;
        let web = w.web_app(&["profile"]).await;
        let req = AuthorizationRequest {
            scopes: scopes("profile"),
            resources: Vec::new(),
        };
        let said = authorize(&w.provider, &web, req).await.map(|_| ());
        assert_eq!(said.map_err(|e| e.code), Err(ErrorCode::UnauthorizedClient));

        let app = device_app(&w, &["profile"]).await;
        for asked in ["email", ""] {
            let req = AuthorizationRequest {
                scopes: scopes(asked),
                resources: Vec::new(),
            };
            let said = authorize(&w.provider, &app, req).await.map(|_| ());
            assert_eq!(
                said.map_err(|e| e.code),
                Err(ErrorCode::InvalidScope),
                "{asked:?}"
            );
        }
        // Another app cannot use this app's device code.
        let other = device_app(&w, &["profile"]).await;
        let code = start(&w, &app, "profile").await;
        let said = refused(exchange(&w.provider, &other, poll(&code), None).await);
        assert!(said.contains("another app"), "{said}");
        let said = refused(
            exchange(
                &w.provider,
                &app,
                Request {
                    device_code: "gr_dc_x".into(),
                },
                None,
            )
            .await,
        );
        assert!(said.contains("invalid"), "{said}");
    }

    #[tokio::test]
    async fn wrong_user_codes_are_throttled_per_address_without_saying_why() {
        let w = World::new().await;
        let app = device_app(&w, &["profile"]).await;
        let code = start(&w, &app, "profile").await;
        let user = member(&w);
        let mut throttled = false;
        for _ in 0..20 {
            let guess = ok(UserCode::generate()).display();
            match w.provider.device_prompt(&user, &guess, HOME).await {
                Err(DeviceError::UnknownCode) => {}
                Err(DeviceError::Throttled(wait)) => {
                    assert!(wait > 0);
                    throttled = true;
                    break;
                }
                other => panic!("a guess: {other:?}"),
            }
        }
        assert!(throttled, "repeated wrong codes are throttled");
        // Even the right code waits at this address; another address is not held up.
        let right = w.provider.device_prompt(&user, &code.user_code, HOME).await;
        assert!(matches!(right, Err(DeviceError::Throttled(_))), "{right:?}");
        let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        let prompt = ok(w
            .provider
            .device_prompt(&user, &code.user_code, elsewhere)
            .await);
        assert_eq!(prompt.consent.app_name, "TV");
        assert_eq!(prompt.user_code, code.user_code);
    }

    #[tokio::test]
    async fn pending_authorizations_per_app_are_capped() {
        let w = World::new().await;
        let app = device_app(&w, &["profile"]).await;
        for _ in 0..MAX_PENDING_PER_APP {
            start(&w, &app, "profile").await;
        }
        let req = AuthorizationRequest {
            scopes: scopes("profile"),
            resources: Vec::new(),
        };
        let full = authorize(&w.provider, &app, req.clone()).await.map(|_| ());
        assert_eq!(full.map_err(|e| e.code), Err(ErrorCode::SlowDown));
        // Expired ones no longer count.
        w.clock.advance(DEVICE_CODE_TTL);
        ok(authorize(&w.provider, &app, req).await);
    }
}
