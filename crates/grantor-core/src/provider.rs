//! The protocol engine: client authentication, the token endpoint's dispatch to grants, token
//! minting, introspection, revocation and userinfo. Handlers call this and nothing deeper.

use crate::app_keys::{self, RemoteKeys};
use crate::client_auth::{self, ClientCredentials};
use crate::error::ErrorCode;
use crate::grant::{self, AppGrant, TokenRequest};
use crate::jose::{self, Alg, Jwk};
use crate::keyring::KeyRing;
use crate::model::ResourceServer;
use crate::model::{AppKeys, GrantType};
use crate::oidc;
use crate::password::PasswordChecker;
use crate::scope::ScopeSet;
use crate::secret;
use crate::store::{
    Client, GrantRecord, GrantStore, RefreshRecord, Registry, ReplayStore, Storage, ThrottleStore,
    UserStore,
};
use crate::token::{ACCESS_TOKEN_TYP, AccessTokenClaims, Audience, Introspection, TokenResponse};
use crate::{Clock, OAuthError};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Authorization codes live 60 seconds.
pub const CODE_TTL: i64 = 60;

/// No access token lives longer than this, whatever an app or the server asks: revocations
/// are remembered this long.
pub const MAX_ACCESS_TOKEN_TTL: i64 = 86_400;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Byte-identical to what discovery publishes and tokens carry in `iss`.
    pub issuer: String,
    /// Default access-token lifetime, seconds.
    pub access_token_ttl: i64,
    /// Refresh-token lifetime, seconds; each rotation starts a new period.
    pub refresh_token_ttl: i64,
    /// How long a sign-in lasts, seconds.
    pub session_ttl: i64,
    /// Refuse authorization requests that did not come through PAR (RFC 9126 5).
    pub require_pushed_authorization_requests: bool,
    /// When set, every DPoP proof must carry a current server nonce (RFC 9449 8).
    pub dpop_nonces: Option<crate::dpop::Nonces>,
}

/// Where the management API lives under the issuer.
const MANAGEMENT_API_PATH: &str = "/api/v1";

impl Settings {
    /// The identifier (audience) of Grantor's own management API.
    pub fn management_api(&self) -> String {
        format!("{}{MANAGEMENT_API_PATH}", self.issuer)
    }

    /// Whether `identifier` is the issuer's own (the issuer or under it): a resource server
    /// with such an identifier (one made before they were refused) belongs to no organization.
    pub fn is_reserved(&self, identifier: &str) -> bool {
        crate::policy::is_reserved_identifier(&self.issuer, identifier)
    }

    /// Whether `identifier` is [`Self::management_api`], without building it: the token
    /// endpoint and every management API request ask.
    pub fn is_management_api(&self, identifier: &str) -> bool {
        identifier.strip_prefix(self.issuer.as_str()) == Some(MANAGEMENT_API_PATH)
    }
}

pub struct Provider<S> {
    pub store: S,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<KeyRing>,
    pub verified: VerifiedTokens,
    /// Checks passwords off the async workers, a bounded number at a time.
    pub passwords: PasswordChecker,
    /// Keys of `private_key_jwt` apps fetched from their `jwks_uri`, cached.
    pub remote_keys: RemoteKeys,
}

/// Access tokens whose signature and issuer were already checked, by hash. Verifying an
/// ES256 signature costs about three times making one, and resource servers introspect the
/// same token on every request. Expiry and revocation are still checked every time.
pub struct VerifiedTokens(Mutex<LruCache<String, Arc<AccessTokenClaims>>>);

/// How many checked tokens are remembered; past that the least recently used is forgotten.
const MAX_VERIFIED: NonZeroUsize = NonZeroUsize::MIN.saturating_add(9_999);

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(MAX_VERIFIED)))
    }
}

impl VerifiedTokens {
    fn get(&self, hash: &str) -> Option<Arc<AccessTokenClaims>> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    fn remember(&self, hash: String, claims: Arc<AccessTokenClaims>) {
        if let Ok(mut cache) = self.0.lock() {
            cache.put(hash, claims);
        }
    }
}

/// Who an access token is for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sub: String,
    pub org_id: String,
    pub auth_time: Option<i64>,
    /// How the user signed in, for the ID token; `None` when no user did.
    pub method: Option<crate::model::SignInMethod>,
    pub grant_id: Option<String>,
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`), if a proof came.
    pub jkt: Option<String>,
}

/// What a user authorized: the input to minting their tokens.
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub subject: Subject,
    pub scopes: ScopeSet,
    pub resources: Vec<String>,
    pub nonce: Option<String>,
}

/// The grant types Grantor supports (implicit at the authorization endpoint, the rest at the
/// token endpoint), for discovery metadata.
pub const SUPPORTED_GRANTS: [GrantType; 7] = [
    GrantType::AuthorizationCode,
    GrantType::ClientCredentials,
    GrantType::RefreshToken,
    GrantType::TokenExchange,
    GrantType::DeviceCode,
    GrantType::Password,
    GrantType::Implicit,
];

impl<S: Registry + ReplayStore> Provider<S> {
    /// Finds the client and verifies its credentials: a secret, none (native apps), or a
    /// signed assertion whose `jti` is then used up on every node.
    pub async fn authenticate_client(
        &self,
        creds: &ClientCredentials,
    ) -> Result<Arc<Client>, OAuthError> {
        let client = self.store.client(&creds.client_id).await?.ok_or_else(|| {
            OAuthError::invalid_client("client authentication failed")
                .with_detail(format!("unknown client_id {}", creds.client_id))
        })?;
        let now = self.clock.now();
        match (&client.app.keys, &creds.assertion) {
            (Some(keys), Some(assertion)) => {
                let client_id = client.app.client_id.as_str();
                let keys = self.app_keys(keys, assertion, now).await?;
                let audiences = [
                    self.settings.issuer.clone(),
                    format!("{}{TOKEN_ENDPOINT_PATH}", self.settings.issuer),
                    format!("{}{PAR_ENDPOINT_PATH}", self.settings.issuer),
                ];
                let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
                let verified =
                    client_auth::check_assertion(client_id, assertion, &keys, &audiences, now)?;
                let first = self
                    .store
                    .first_use(
                        &format!("client:{client_id}"),
                        &verified.jti,
                        verified.expires_at,
                        now,
                    )
                    .await?;
                if !first {
                    return Err(OAuthError::invalid_client("client authentication failed")
                        .with_detail("client assertion replayed (jti seen before)"));
                }
            }
            _ => client_auth::authenticate(&client.app, creds, now)?,
        }
        Ok(client)
    }

    /// The keys an app's assertion is checked with: its registered JWKS, or the keys at its
    /// `jwks_uri` (cached; refetched for a `kid` not seen yet).
    async fn app_keys(
        &self,
        keys: &AppKeys,
        assertion: &str,
        now: i64,
    ) -> Result<Arc<Vec<Jwk>>, OAuthError> {
        let refused = |why: String| {
            OAuthError::invalid_client("client authentication failed").with_detail(why)
        };
        match keys {
            AppKeys::Jwks(doc) => app_keys::parse_jwks(doc)
                .map(Arc::new)
                .map_err(|e| refused(format!("stored jwks: {e}"))),
            AppKeys::Uri(uri) => {
                let kid = assertion_kid(assertion);
                self.remote_keys
                    .keys(uri, kid.as_deref(), now)
                    .await
                    .map_err(|e| refused(format!("jwks_uri {uri}: {e}")))
            }
        }
    }
}

/// Where the token and PAR endpoints are under the issuer: an assertion's `aud` may name
/// either, or the issuer (RFC 7523 3, RFC 9126 2).
pub const TOKEN_ENDPOINT_PATH: &str = "/oauth2/token";
pub const PAR_ENDPOINT_PATH: &str = "/oauth2/par";

/// The `kid` of a JWT's header, unverified: which key to look for.
fn assertion_kid(assertion: &str) -> Option<String> {
    use base64::Engine;
    let header = assertion.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("kid")?.as_str().map(str::to_string)
}

impl<S: Storage> Provider<S> {
    /// The token endpoint (RFC 6749 section 3.2): an API-token exchange, or an app's grant
    /// after authenticating the app. `peer` is the caller's address, for throttling password
    /// guesses.
    pub async fn token(
        &self,
        creds: Option<&ClientCredentials>,
        request: TokenRequest,
        peer: std::net::IpAddr,
        dpop_proof: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        // A proof is checked before anything else (whatever the grant, what it issues is
        // bound to the proof's key), but its jti is recorded only once the app has
        // authenticated, so that no one else can fill the replay table.
        let proof = match dpop_proof {
            Some(proof) => {
                let htu = self.token_endpoint();
                let target = crate::dpop::Target {
                    htm: "POST",
                    htu: &htu,
                };
                Some(self.verify_dpop_proof(proof, target, None)?)
            }
            None => None,
        };
        match request {
            TokenRequest::TokenExchange(req) => {
                if let Some(proof) = &proof {
                    self.spend_dpop_proof(proof).await?;
                }
                let jkt = proof.as_ref().map(|p| p.jkt.as_str());
                grant::token_exchange::exchange(self, req, jkt).await
            }
            TokenRequest::App(grant) => {
                let creds = creds.ok_or_else(|| {
                    OAuthError::invalid_client("client authentication is required")
                })?;
                self.app_grant(creds, grant, peer, proof.as_ref()).await
            }
        }
    }

    async fn app_grant(
        &self,
        creds: &ClientCredentials,
        request: AppGrant,
        peer: std::net::IpAddr,
        proof: Option<&crate::dpop::Proof>,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(creds).await?;
        if let Some(proof) = proof {
            self.spend_dpop_proof(proof).await?;
        }
        let jkt = proof.map(|p| p.jkt.as_str());
        let grant_type = request.grant_type();
        if !client.app.allows(grant_type) {
            return Err(OAuthError::unauthorized_client(format!(
                "this {} app may not use the {} grant",
                client.app.app_type.as_str(),
                grant_type.as_str()
            )));
        }
        match request {
            AppGrant::ClientCredentials(req) => {
                grant::client_credentials::exchange(self, &client, req, jkt).await
            }
            AppGrant::AuthorizationCode(req) => {
                grant::authorization_code::exchange(self, &client, req, jkt).await
            }
            AppGrant::RefreshToken(req) => {
                grant::refresh_token::exchange(self, &client, req, jkt).await
            }
            AppGrant::Password(req) => {
                grant::password::exchange(self, &client, req, peer, jkt).await
            }
            AppGrant::DeviceCode(req) => {
                grant::device_code::exchange(self, &client, req, jkt).await
            }
        }
    }

    /// The device authorization endpoint (RFC 8628 3.1): the app authenticates as at the
    /// token endpoint, then gets a device code and a user code.
    pub async fn device_authorization(
        &self,
        creds: &ClientCredentials,
        request: grant::device_code::AuthorizationRequest,
    ) -> Result<grant::device_code::DeviceAuthorization, OAuthError> {
        let client = self.authenticate_client(creds).await?;
        grant::device_code::authorize(self, &client, request).await
    }

    /// An access token that is valid now: verified, not revoked, and its grant not revoked.
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenClaims>, OAuthError> {
        let Some(claims) = self.verify_access_token(token) else {
            return Ok(None);
        };
        // Every token dies with its app (a user's grants go with it), except one exchanged for
        // an API token, whose "app" is that API token, revoked through the log. The app comes
        // from the cache and revocations from memory: a valid token costs no database read.
        let exchanged = claims.grant_id.as_deref() == Some(claims.client_id.as_str());
        if !exchanged && self.store.client(&claims.client_id).await?.is_none() {
            return Ok(None);
        }
        if self
            .store
            .is_access_token_revoked(&claims.jti, claims.grant_id.as_deref())
            .await?
        {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// Token introspection (RFC 7662), for confidential apps. Refresh tokens are reported
    /// only to the app they were issued to.
    pub async fn introspect(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let caller = self.authenticate_client(creds).await?;
        if !caller.app.app_type.is_confidential() {
            return Err(OAuthError::unauthorized_client(
                "introspection is for confidential apps",
            ));
        }
        if token.starts_with(secret::Kind::RefreshToken.prefix()) {
            return self.introspect_refresh_token(&caller, token).await;
        }
        let Some(claims) = self.active_access_token(token).await? else {
            return Ok(Introspection::default());
        };
        if !self.may_introspect(&caller, &claims).await? {
            return Ok(Introspection::default());
        }
        let token_type = claims.token_type();
        Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            token_type: Some(token_type.into()),
            jti: Some(claims.jti),
            org_id: Some(claims.org_id),
            cnf: claims.cnf,
        })
    }

    /// RFC 7662 section 4: only the app the token was issued to, or an app of the
    /// organization that owns one of the token's audiences (its resource server), may learn
    /// about it; to anyone else it is simply inactive. The issuer's own audiences (the
    /// management API, the issuer) belong to no organization, whatever name a resource server
    /// may have taken before such identifiers were refused.
    async fn may_introspect(
        &self,
        caller: &Client,
        claims: &AccessTokenClaims,
    ) -> Result<bool, OAuthError> {
        if claims.client_id == caller.app.client_id {
            return Ok(true);
        }
        for aud in claims.aud.iter() {
            if self.settings.is_reserved(aud) {
                continue;
            }
            if let Some(rs) = self.store.resource_server(aud).await?
                && rs.org_id == caller.app.org_id
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn introspect_refresh_token(
        &self,
        caller: &Client,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let Some((rt, rotated)) = self.store.refresh_token(&secret::hash(token)).await? else {
            return Ok(Introspection::default());
        };
        let active = !rotated
            && rt.client_id == caller.app.client_id
            && rt.expires_at > self.clock.now()
            && !self.store.is_grant_revoked(&rt.grant_id).await?;
        if !active {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(rt.scopes.to_string()),
            client_id: Some(rt.client_id),
            sub: Some(rt.user_id),
            iss: Some(self.settings.issuer.clone()),
            exp: Some(rt.expires_at),
            token_type: Some("refresh_token".into()),
            org_id: Some(rt.org_id),
            ..Introspection::default()
        })
    }

    /// Token revocation (RFC 7009). Unknown, expired or foreign tokens answer success too,
    /// so the endpoint reveals nothing about tokens the caller does not hold. Revoking a
    /// refresh token revokes its whole grant.
    pub async fn revoke(&self, creds: &ClientCredentials, token: &str) -> Result<(), OAuthError> {
        let caller = self.authenticate_client(creds).await?;
        if token.starts_with(secret::Kind::RefreshToken.prefix()) {
            if let Some((rt, _)) = self.store.refresh_token(&secret::hash(token)).await?
                && rt.client_id == caller.app.client_id
            {
                self.store
                    .revoke_grant(&rt.grant_id, self.clock.now())
                    .await?;
            }
        } else if let Some(claims) = self.verify_access_token(token)
            && claims.client_id == caller.app.client_id
        {
            self.store
                .revoke_access_token(&claims.jti, claims.exp)
                .await?;
        }
        Ok(())
    }

    /// OIDC UserInfo: the claims a user's access token with `openid` may see. A DPoP-bound
    /// token is accepted only as `Authorization: DPoP` with a proof by its key
    /// ([`crate::dpop::Presented`]).
    pub async fn userinfo(
        &self,
        presented: Option<crate::dpop::Presented<'_>>,
    ) -> Result<serde_json::Value, OAuthError> {
        let presented = presented.ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidToken, "a bearer access token is required")
        })?;
        let dpop_used = presented.dpop.is_some();
        let claims = self
            .active_access_token(presented.token)
            .await?
            .ok_or_else(|| {
                let e = OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the access token is invalid, expired or revoked",
                );
                if dpop_used {
                    e.with_dpop_challenge()
                } else {
                    e
                }
            })?;
        let target = self.userinfo_endpoint();
        self.check_binding(&claims, &presented, &target)
            .await
            .map_err(OAuthError::with_dpop_challenge)?;
        let scopes = ScopeSet::parse(&claims.scope).unwrap_or_default();
        if !scopes.contains("openid") || claims.sub == claims.client_id {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "userinfo needs a user's token with the openid scope",
            ));
        }
        let user = self.store.user(&claims.sub).await?.ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidToken, "the token's user no longer exists")
        })?;
        Ok(oidc::user_claims(&user, &scopes, Some(&claims.org_id)))
    }
}

impl<S: UserStore + ThrottleStore> Provider<S> {
    /// Checks a person's email and password, throttled per account and per address: the
    /// sign-in page and the password grant both ask here.
    pub async fn check_password(
        &self,
        email: &str,
        password: &str,
        address: std::net::IpAddr,
    ) -> Result<crate::model::User, crate::login::LoginError> {
        let now = self.clock.now();
        crate::login::authenticate(&self.store, &self.passwords, email, password, address, now)
            .await
    }
}

impl<S> Provider<S> {
    /// Mints a signed access token for an app; `scopes` are final, `audiences` already
    /// resolved.
    pub fn mint_access_token(
        &self,
        client: &Client,
        subject: Subject,
        scopes: &ScopeSet,
        audiences: Vec<String>,
    ) -> Result<(String, AccessTokenClaims), OAuthError> {
        let ttl = self.access_token_ttl(client);
        self.mint(&client.app.client_id, ttl, subject, scopes, audiences)
    }

    /// How long `client`'s access tokens live: its own setting or the server's default.
    fn access_token_ttl(&self, client: &Client) -> i64 {
        if client.app.access_token_ttl > 0 {
            client.app.access_token_ttl
        } else {
            self.settings.access_token_ttl
        }
        .min(MAX_ACCESS_TOKEN_TTL)
    }

    /// Mints a signed access token naming `client_id` (an app, or the API token exchanged).
    pub fn mint(
        &self,
        client_id: &str,
        ttl: i64,
        subject: Subject,
        scopes: &ScopeSet,
        audiences: Vec<String>,
    ) -> Result<(String, AccessTokenClaims), OAuthError> {
        let now = self.clock.now();
        let audiences = if audiences.is_empty() {
            vec![self.settings.issuer.clone()]
        } else {
            audiences
        };
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.sub,
            aud: Audience::from_vec(audiences),
            exp: now + ttl,
            iat: now,
            nbf: Some(now),
            jti: secret::new_id("at_")?,
            client_id: client_id.to_string(),
            scope: scopes.to_string(),
            org_id: subject.org_id,
            auth_time: subject.auth_time,
            grant_id: subject.grant_id,
            cnf: subject.jkt.map(|jkt| crate::token::Confirmation { jkt }),
        };
        let keys = self.keys.current();
        let signer = keys
            .signer(Alg::ES256)
            .ok_or_else(|| OAuthError::server_error("no active ES256 signing key"))?;
        let token = signer
            .sign(ACCESS_TOKEN_TYP, &claims)
            .map_err(|e| OAuthError::server_error(format!("signing: {e}")))?;
        Ok((token, claims))
    }

    /// Verifies one of our own access tokens: signature, `typ`, issuer and expiry.
    pub fn verify_access_token(&self, token: &str) -> Option<AccessTokenClaims> {
        let hash = secret::hash(token);
        let claims = match self.verified.get(&hash) {
            Some(claims) => claims,
            None => {
                let keys = self.keys.current();
                let (header, payload) =
                    jose::verify(token, &[Alg::ES256, Alg::RS256], |kid| keys.verifier(kid))
                        .ok()?;
                if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
                    return None;
                }
                let claims: AccessTokenClaims = serde_json::from_slice(&payload).ok()?;
                if claims.iss != self.settings.issuer {
                    return None;
                }
                let claims = Arc::new(claims);
                self.verified.remember(hash, claims.clone());
                claims
            }
        };
        (claims.exp > self.clock.now()).then(|| claims.as_ref().clone())
    }
}

impl<S: Registry> Provider<S> {
    /// Checks `resource` parameters (RFC 8707): absolute URIs naming known resource servers.
    pub async fn resolve_resources(
        &self,
        requested: &[String],
    ) -> Result<Vec<Arc<ResourceServer>>, OAuthError> {
        let mut found = Vec::with_capacity(requested.len());
        for r in requested {
            let parsed = url::Url::parse(r).map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidTarget,
                    format!("resource {r:?} is not an absolute URI"),
                )
            })?;
            if parsed.fragment().is_some() {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "a resource must not contain a fragment",
                ));
            }
            let rs = self.store.resource_server(r).await?.ok_or_else(|| {
                OAuthError::new(ErrorCode::InvalidTarget, format!("unknown resource {r}"))
            })?;
            found.push(rs);
        }
        Ok(found)
    }

    /// Narrows `scopes` to what a token acting in organization `org_id` may carry and to the
    /// requested resources (RFC 8707), and returns the audiences: the identifiers of the
    /// resource servers whose scopes the token carries. A resource server's scopes reach a
    /// token only in its own organization's context; a scope no server of that organization
    /// declares is left out, and one declared by several needs `resource` to pick.
    pub async fn target(
        &self,
        scopes: &mut ScopeSet,
        resources: &[String],
        org_id: &str,
    ) -> Result<Vec<String>, OAuthError> {
        // Grantor's own management API is a resource server too; its scopes are `grantor:*`.
        let (to_management, others): (Vec<String>, Vec<String>) = resources
            .iter()
            .cloned()
            .partition(|r| self.settings.is_management_api(r));
        let targets = self.resolve_resources(&others).await?;
        let index = self.store.org_resources(org_id).await?;
        if let Some(foreign) = targets
            .iter()
            .find(|rs| rs.org_id != org_id || self.settings.is_reserved(&rs.identifier))
        {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("unknown resource {}", foreign.identifier),
            ));
        }
        let mut audiences: Vec<String> = Vec::new();
        if scopes.has_management() && (resources.is_empty() || !to_management.is_empty()) {
            audiences.push(self.settings.management_api());
        }
        let mut kept = ScopeSet::default();
        for s in scopes.iter() {
            if crate::scope::is_oidc(s) {
                kept.insert(s);
                continue;
            }
            if crate::scope::is_management(s) {
                if resources.is_empty() || !to_management.is_empty() {
                    kept.insert(s);
                }
                continue;
            }
            let servers: Vec<&ResourceServer> = index
                .servers_of(s)
                .into_iter()
                .filter(|rs| !self.settings.is_reserved(&rs.identifier))
                .filter(|rs| resources.is_empty() || targets.iter().any(|t| t.id == rs.id))
                .collect();
            match servers.as_slice() {
                [] => {}
                [rs] => {
                    kept.insert(s);
                    if !audiences.contains(&rs.identifier) {
                        audiences.push(rs.identifier.clone());
                    }
                }
                several => {
                    let apis: Vec<&str> = several.iter().map(|rs| rs.identifier.as_str()).collect();
                    return Err(OAuthError::new(
                        ErrorCode::InvalidTarget,
                        format!(
                            "scope {s} is declared by several APIs of this organization ({}): name one with the resource parameter",
                            apis.join(", ")
                        ),
                    ));
                }
            }
        }
        if !resources.is_empty() && kept.iter().all(crate::scope::is_oidc) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "the requested scopes include none for the requested resource",
            ));
        }
        *scopes = kept;
        Ok(audiences)
    }

    /// An access token for what a user authorized.
    pub async fn mint_for_grant(
        &self,
        client: &Client,
        grant: &UserGrant,
    ) -> Result<(String, AccessTokenClaims), OAuthError> {
        let mut scopes = grant.scopes.clone();
        let audiences = self
            .target(&mut scopes, &grant.resources, &grant.subject.org_id)
            .await?;
        self.mint_access_token(client, grant.subject.clone(), &scopes, audiences)
    }
}

impl<S: Registry + GrantStore + UserStore> Provider<S> {
    /// A new grant (the family of what one authorization issues) whose code is exchanged
    /// within [`CODE_TTL`].
    pub async fn create_grant(
        &self,
        user_id: &str,
        client: &Client,
        org_id: &str,
    ) -> Result<String, OAuthError> {
        let exchange_by = self.clock.now() + CODE_TTL;
        self.create_grant_exchanged_by(user_id, client, org_id, exchange_by)
            .await
    }

    /// A new grant whose first tokens are issued by `exchange_by` at the latest (a code's or
    /// a device code's expiry); the access token issued then lives on after that.
    pub async fn create_grant_exchanged_by(
        &self,
        user_id: &str,
        client: &Client,
        org_id: &str,
        exchange_by: i64,
    ) -> Result<String, OAuthError> {
        let record = GrantRecord {
            id: secret::new_id("gnt_")?,
            user_id: user_id.into(),
            client_id: client.app.client_id.clone(),
            org_id: org_id.into(),
            created_at: self.clock.now(),
            expires_at: exchange_by + self.access_token_ttl(client),
        };
        self.store.create_grant(&record).await?;
        Ok(record.id)
    }

    /// The token response for a user grant: an access token, a fresh refresh token in the
    /// same family, and an ID token when `openid` was granted.
    pub async fn issue_user_tokens(
        &self,
        client: &Client,
        grant: UserGrant,
        refresh_scopes: &ScopeSet,
    ) -> Result<TokenResponse, OAuthError> {
        let (access_token, claims) = self.mint_for_grant(client, &grant).await?;
        let now = self.clock.now();
        let grant_id = grant
            .subject
            .grant_id
            .clone()
            .ok_or_else(|| OAuthError::server_error("user grant without grant id"))?;
        let refresh = secret::generate(secret::Kind::RefreshToken)?;
        self.store
            .insert_refresh_token(&RefreshRecord {
                token_hash: secret::hash(&refresh),
                grant_id,
                client_id: client.app.client_id.clone(),
                user_id: grant.subject.sub.clone(),
                org_id: grant.subject.org_id.clone(),
                scopes: refresh_scopes.clone(),
                resources: grant.resources.clone(),
                auth_time: grant.subject.auth_time.unwrap_or(now),
                method: grant.subject.method.unwrap_or_default(),
                // A public app's refresh token is bound to its DPoP key (RFC 9449 5): one
                // stolen from it is useless without the private key. A confidential app
                // authenticates anyway, so its refresh tokens stay unbound.
                dpop_jkt: if client.app.app_type.is_confidential() {
                    None
                } else {
                    grant.subject.jkt.clone()
                },
                // Never before the access token issued beside it, so a grant whose refresh
                // tokens are all gone has no live access token either.
                expires_at: now + self.settings.refresh_token_ttl.max(claims.exp - now),
            })
            .await?;
        let id_token = if grant.scopes.contains("openid") {
            Some(oidc::id_token(self, client, &grant, &access_token).await?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: claims.token_type().into(),
            expires_in: claims.exp - claims.iat,
            scope: claims.scope,
            refresh_token: Some(refresh),
            id_token,
            issued_token_type: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn the_management_api_is_recognised_exactly() {
        let settings = Settings {
            issuer: "https://id.example".into(),
            access_token_ttl: 900,
            refresh_token_ttl: 3600,
            session_ttl: 3600,
            require_pushed_authorization_requests: false,
            dpop_nonces: None,
        };
        let own = settings.management_api();
        assert!(settings.is_management_api(&own));
        for other in [
            "https://id.example/api/v1/",
            "https://id.example/api/v10",
            "https://id.example.evil/api/v1",
            "https://api.example.com",
            "/api/v1",
        ] {
            assert!(!settings.is_management_api(other), "{other}");
        }
    }
}
