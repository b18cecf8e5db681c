//! A small world for unit tests: an in-memory store, a manual clock, `Manager` and `Provider`
//! over them, and one organization with an owner, a developer and a member.

use crate::clock::ManualClock;
use crate::jose::{Alg, KeyEncryptionKey};
use crate::keyring::{self, KeyRing, RotationPolicy};
use crate::manage::{Manager, NewApp};
use crate::model::{AppType, Caller, Organization, Role, User};
use crate::password::PasswordChecker;
use crate::provider::{CODE_TTL, Provider, Settings};
use crate::scope::ScopeSet;
use crate::store::memory::MemoryStore;
use crate::store::{Client, CodeRecord, GrantRecord, GrantStore, KeyState, Registry};
use crate::{Clock, secret};
use std::sync::Arc;

pub const ISSUER: &str = "https://grantor.test";
pub const REDIRECT_URI: &str = "https://app.test/callback";

pub struct World {
    pub store: MemoryStore,
    pub clock: Arc<ManualClock>,
    pub manager: Manager<MemoryStore>,
    pub provider: Provider<MemoryStore>,
    pub org: Organization,
    pub owner: User,
    pub developer: User,
    pub member: User,
}

/// `value`, or the test fails with what went wrong.
pub fn ok<T, E: std::fmt::Debug>(value: Result<T, E>) -> T {
    value.unwrap_or_else(|e| panic!("unexpected error: {e:?}"))
}

/// Why a token request was refused with `invalid_grant`; the test fails on anything else.
pub fn refused<T: std::fmt::Debug>(result: Result<T, crate::OAuthError>) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.code, crate::ErrorCode::InvalidGrant, "{e:?}");
            e.description
        }
        Ok(v) => panic!("expected invalid_grant, got {v:?}"),
    }
}

pub fn scopes(text: &str) -> ScopeSet {
    ok(ScopeSet::parse(text))
}

/// What it takes to register an app of `app_type` with the usual test redirect URI.
pub fn new_app(app_type: AppType, name: &str, scopes: &[&str]) -> NewApp {
    let redirect_uris = match app_type {
        AppType::Server => Vec::new(),
        _ => vec![REDIRECT_URI],
    };
    NewApp::new(app_type, name)
        .redirect_uris(redirect_uris)
        .scopes(scopes.iter().copied())
}

impl World {
    pub async fn new() -> Self {
        let store = MemoryStore::default();
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let manager = Manager::new(store.clone(), clock.clone(), ISSUER);
        let kek = ok(KeyEncryptionKey::parse(&ok(
            KeyEncryptionKey::generate_encoded(),
        )));
        let now = clock.now();
        ok(keyring::create_key(&store, &kek, &*clock, Alg::ES256, KeyState::Active, now).await);
        let keys = Arc::new(KeyRing::default());
        ok(keyring::reload(&store, &kek, &keys, &RotationPolicy::default()).await);
        let provider = Provider {
            store: store.clone(),
            settings: Settings {
                issuer: ISSUER.into(),
                access_token_ttl: 300,
                refresh_token_ttl: 3600,
                session_ttl: 3600,
                require_pushed_authorization_requests: false,
                dpop_nonces: None,
            },
            clock: clock.clone(),
            keys,
            verified: Default::default(),
            passwords: PasswordChecker::new(1, 4),
            remote_keys: Default::default(),
        };
        let op = Caller::operator();
        let org = ok(manager.create_organization(&op, "acme").await);
        let mut people = Vec::new();
        for (email, role) in [
            ("owner@acme.test", Role::Owner),
            ("developer@acme.test", Role::Developer),
            ("member@acme.test", Role::Member),
        ] {
            let user = ok(manager.create_user(&op, email, None, None, false).await);
            ok(manager.add_member(&op, &org.name, email, role).await);
            people.push(user);
        }
        let [owner, developer, member] = ok(<[User; 3]>::try_from(people));
        Self {
            store,
            clock,
            manager,
            provider,
            org,
            owner,
            developer,
            member,
        }
    }

    /// A browser session's caller: the user with their whole role.
    pub fn signed_in(user: &User) -> Caller {
        Caller::new(
            crate::model::Actor::User {
                user_id: user.id.clone(),
                platform_admin: user.platform_admin,
                token: None,
            },
            None,
        )
    }

    /// A web app of the organization with `app_scopes`, as the token endpoint sees it.
    pub async fn web_app(&self, app_scopes: &[&str]) -> Arc<Client> {
        self.app_with(new_app(AppType::Web, "Web", app_scopes))
            .await
    }

    /// An app of the organization registered by its owner, as the token endpoint sees it.
    pub async fn app_with(&self, new: NewApp) -> Arc<Client> {
        let owner = Self::signed_in(&self.owner);
        let app = ok(self.manager.create_app(&owner, &self.org.name, new).await);
        let client = self.store.client(&app.app.client_id).await;
        ok(client).unwrap_or_else(|| panic!("the app just made is missing"))
    }

    /// An authorization code for `user` and `client`, as the approval step stores it.
    pub async fn code(
        &self,
        client: &Client,
        user: &User,
        granted: &str,
        code_challenge: Option<&str>,
    ) -> String {
        let now = self.clock.now();
        let grant = GrantRecord {
            id: ok(secret::new_id("gnt_")),
            user_id: user.id.clone(),
            client_id: client.app.client_id.clone(),
            org_id: self.org.id.clone(),
            created_at: now,
            expires_at: now + CODE_TTL + 300,
        };
        ok(self.store.create_grant(&grant).await);
        let code = ok(secret::generate(secret::Kind::AuthorizationCode));
        let record = CodeRecord {
            code_hash: secret::hash(&code),
            grant_id: grant.id,
            client_id: client.app.client_id.clone(),
            user_id: user.id.clone(),
            org_id: self.org.id.clone(),
            redirect_uri: Some(REDIRECT_URI.into()),
            scopes: scopes(granted),
            resources: Vec::new(),
            code_challenge: code_challenge.map(str::to_string),
            nonce: None,
            auth_time: now,
            method: Default::default(),
            expires_at: now + CODE_TTL,
            dpop_jkt: None,
        };
        ok(self.store.insert_code(&record).await);
        code
    }
}
