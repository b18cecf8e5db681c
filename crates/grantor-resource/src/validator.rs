//! Token validation: local (JWKS) or by introspection.

use crate::caller::{Caller, CallerKind};
use crate::error::TokenError;
use crate::jwks::JwksCache;
use crate::metadata::{self, Location};
use aws_lc_rs::digest;
use axum::Router;
use grantor_token::dpop;
use grantor_token::jose::{self, Alg, JoseError, JwkSet};
use grantor_token::token::{ACCESS_TOKEN_TYP, AccessTokenClaims, Audience, Introspection};
use grantor_token::{Clock, SystemClock};
use lru::LruCache;
use serde::Deserialize;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How this resource server validates tokens.
#[derive(Debug, Clone)]
pub struct Config {
    /// Grantor's issuer identifier, exactly as its discovery document states it.
    pub issuer: String,
    /// This resource server's identifier; tokens must name it in `aud`.
    pub audience: String,
    /// Accepted signature algorithms.
    pub algorithms: Vec<Alg>,
    /// Clock skew tolerated on `exp`, in seconds.
    pub leeway_seconds: i64,
    /// Keys are refetched at least this often.
    pub jwks_max_age: Duration,
    /// A token with an unknown key triggers a refetch at most this often.
    pub jwks_min_refresh: Duration,
    /// Ask Grantor's introspection endpoint instead of verifying locally.
    pub introspection: Option<IntrospectionConfig>,
    /// The scopes this API's routes require, published in its metadata (RFC 9728).
    pub scopes: Vec<String>,
    /// A name for people, published in its metadata.
    pub resource_name: Option<String>,
    /// Where clients reach this API (scheme, host, port, and any path prefix a proxy or an
    /// axum `nest` strips before the layer sees the request), which DPoP proofs name in
    /// `htu`. Without it DPoP-bound tokens are refused.
    pub public_url: Option<String>,
}

/// Credentials of an app (a server app of the resource server's organization) that may call
/// Grantor's introspection endpoint, and how long answers are reused.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    pub client_id: String,
    pub client_secret: String,
    pub cache_ttl: Duration,
}

impl Config {
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            audience: audience.to_string(),
            algorithms: vec![Alg::ES256, Alg::RS256],
            leeway_seconds: 30,
            jwks_max_age: Duration::from_secs(300),
            jwks_min_refresh: Duration::from_secs(10),
            introspection: None,
            scopes: Vec::new(),
            resource_name: None,
            public_url: None,
        }
    }

    /// Accepts DPoP-bound tokens (RFC 9449) for requests to this URL and below: what clients
    /// call, such as `https://trading.example.com` (a request's path is appended to it).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.trim_end_matches('/').to_string());
        self
    }

    /// Declares the scopes this API's routes require, for its metadata document.
    pub fn with_scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_resource_name(mut self, name: &str) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Validate by introspection (revocation takes effect within `cache_ttl`).
    pub fn with_introspection(
        mut self,
        client_id: &str,
        client_secret: &str,
        cache_ttl: Duration,
    ) -> Self {
        self.introspection = Some(IntrospectionConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            cache_ttl,
        });
        self
    }

    pub fn with_jwks_refresh(mut self, max_age: Duration, min_refresh: Duration) -> Self {
        self.jwks_max_age = max_age;
        self.jwks_min_refresh = min_refresh;
        self
    }
}

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
    introspection_endpoint: Option<String>,
}

/// An introspection answer and when it was received.
type CachedAnswer = (Instant, Result<Caller, TokenError>);

/// A token's key in the introspection cache: its SHA-256, so the cache holds no bearer token.
fn cache_key(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// Introspection answers remembered; past this, the least recently used is forgotten.
const MAX_CACHED: NonZeroUsize = NonZeroUsize::MIN.saturating_add(9_999);

/// DPoP proofs whose `jti` is remembered against replay; past this the least recently used
/// is forgotten. A proof is only accepted for [`dpop::IAT_WINDOW`] seconds either side of
/// its `iat`, so this holds well over a thousand proofs a second.
const MAX_PROOFS: NonZeroUsize = NonZeroUsize::MIN.saturating_add(199_999);

/// Validates Grantor access tokens for one resource server. Cheap to share behind an `Arc`.
pub struct Validator {
    config: Config,
    http: reqwest::Client,
    metadata: OnceCell<Metadata>,
    jwks: JwksCache,
    introspected: Mutex<LruCache<Vec<u8>, CachedAnswer>>,
    /// Proofs seen, by key thumbprint and `jti`, with when each may be forgotten.
    proofs: Mutex<LruCache<(String, String), i64>>,
    clock: Arc<dyn Clock>,
    /// Keys given up front: never fetched, never refreshed.
    pinned: bool,
    /// Where this API's metadata lives, when its identifier has a well-known URL.
    resource_metadata: Option<Location>,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Sends a request to Grantor and decodes its JSON answer; a non-2xx status is an error.
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, reqwest::Error> {
    request.send().await?.error_for_status()?.json().await
}

fn invalid(why: &str) -> TokenError {
    TokenError::Invalid(why.to_string())
}

impl Validator {
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            http: http_client(),
            metadata: OnceCell::new(),
            jwks: JwksCache::default(),
            introspected: Mutex::new(LruCache::new(MAX_CACHED)),
            proofs: Mutex::new(LruCache::new(MAX_PROOFS)),
            clock,
            pinned: false,
            resource_metadata: metadata::location(&config.audience),
            config,
        }
    }

    /// A validator that trusts exactly these keys and never contacts Grantor (for tests,
    /// benchmarks, and deployments that distribute keys themselves). Rotation then needs a
    /// new validator.
    pub fn with_keys(config: Config, keys: &JwkSet) -> Self {
        let validator = Self {
            pinned: true,
            ..Self::new(config)
        };
        validator.jwks.set(keys);
        validator
    }

    /// The URL of this API's metadata document (RFC 9728), formed from its identifier; every
    /// refusal behind [`crate::RequireToken`] names it. `None` when the identifier is not a
    /// plain http(s) URL.
    pub fn metadata_url(&self) -> Option<&str> {
        self.resource_metadata.as_ref().map(|l| l.url.as_str())
    }

    /// A router serving this API's metadata document at the path of [`Validator::metadata_url`]
    /// (nothing when there is none). Merge it outside [`crate::RequireToken`]: clients read it
    /// before they have a token.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        match &self.resource_metadata {
            Some(location) => metadata::router(&self.config, location),
            None => {
                tracing::warn!(
                    identifier = %self.config.audience,
                    "no protected-resource metadata: the identifier is not a plain http(s) URL"
                );
                Router::new()
            }
        }
    }

    async fn metadata(&self) -> Result<&Metadata, TokenError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/oauth-authorization-server",
                    self.config.issuer
                );
                let meta: Metadata =
                    fetch_json(self.http.get(&url))
                        .await
                        .map_err(|e: reqwest::Error| {
                            TokenError::Unavailable(format!("discovery at {url} failed: {e}"))
                        })?;
                if meta.issuer != self.config.issuer {
                    return Err(TokenError::Unavailable(format!(
                        "discovery names issuer {:?}, expected {:?}",
                        meta.issuer, self.config.issuer
                    )));
                }
                Ok(meta)
            })
            .await
    }

    /// Validates a bearer token and returns its caller. A DPoP-bound token is refused here:
    /// it needs [`Validator::validate_dpop`] and a proof.
    pub async fn validate(&self, token: &str) -> Result<Caller, TokenError> {
        let caller = self.validate_token(token).await?;
        if caller.jkt.is_some() {
            return Err(TokenError::BoundToKey);
        }
        Ok(caller)
    }

    /// Validates a token presented as `Authorization: DPoP` with the request's `DPoP` proof
    /// (RFC 9449 7): the token must be bound to the proof's key, and the proof made for this
    /// request (`method`, and `path` under [`Config::public_url`]), for this token (`ath`),
    /// recently, and never seen before.
    pub async fn validate_dpop(
        &self,
        token: &str,
        proof: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<Caller, TokenError> {
        let refused = |why: &str| TokenError::InvalidDpopProof(why.to_string());
        let caller = self.validate_token(token).await?;
        let Some(jkt) = caller.jkt.as_deref() else {
            return Err(invalid(
                "the token is not DPoP-bound: present it with the Bearer scheme",
            ));
        };
        let base =
            self.config.public_url.as_deref().ok_or_else(|| {
                refused("this API takes no DPoP proofs: its public URL is not set")
            })?;
        let proof = proof.ok_or_else(|| refused("a DPoP proof is required"))?;
        let htu = format!("{base}{path}");
        let expected = dpop::Expected {
            htm: method,
            htu: &htu,
            access_token: Some(token),
            now: self.clock.now(),
        };
        let checked = dpop::verify(proof, &expected)
            .map_err(|e| TokenError::InvalidDpopProof(e.to_string()))?;
        if checked.jkt != jkt {
            return Err(refused(
                "the proof is made with another key than the token is bound to",
            ));
        }
        self.first_use(&checked)?;
        Ok(caller)
    }

    /// Spends a proof's `jti`: a second use within its lifetime is refused.
    fn first_use(&self, proof: &dpop::Proof) -> Result<(), TokenError> {
        let now = self.clock.now();
        let mut seen = self
            .proofs
            .lock()
            .map_err(|_| TokenError::Unavailable("the DPoP replay cache failed".into()))?;
        let key = (proof.jkt.clone(), proof.jti.clone());
        if seen.get(&key).is_some_and(|until| *until > now) {
            return Err(TokenError::InvalidDpopProof(
                "the proof was already used; make a new one for each request".into(),
            ));
        }
        seen.put(key, proof.replay_expires_at());
        Ok(())
    }

    async fn validate_token(&self, token: &str) -> Result<Caller, TokenError> {
        match &self.config.introspection {
            Some(introspection) => self.introspect(token, introspection).await,
            None => self.verify_locally(token).await,
        }
    }

    async fn refresh_keys(&self, unknown_kid: bool) -> Result<(), TokenError> {
        if self.pinned {
            return Ok(());
        }
        let jwks_uri = &self.metadata().await?.jwks_uri;
        let result = self
            .jwks
            .refresh(
                &self.http,
                jwks_uri,
                self.config.jwks_max_age,
                self.config.jwks_min_refresh,
                unknown_kid,
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if self.jwks.keys().is_empty() => Err(TokenError::Unavailable(e)),
            Err(e) => {
                tracing::warn!(error = %e, "keeping the keys already known");
                Ok(())
            }
        }
    }

    fn verify_signature(&self, token: &str) -> Result<Vec<u8>, JoseError> {
        let keys = self.jwks.keys();
        let (header, payload) = jose::verify(token, &self.config.algorithms, |kid| {
            keys.iter().find(|k| k.kid == kid)
        })?;
        // RFC 9068 2.1: "at+jwt", or the full media type.
        match header.typ.as_deref() {
            Some(ACCESS_TOKEN_TYP) | Some("application/at+jwt") => Ok(payload),
            _ => Err(JoseError::Malformed),
        }
    }

    async fn verify_locally(&self, token: &str) -> Result<Caller, TokenError> {
        self.refresh_keys(false).await?;
        let payload = match self.verify_signature(token) {
            Err(JoseError::UnknownKey) => {
                self.refresh_keys(true).await?;
                self.verify_signature(token)
            }
            other => other,
        }
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims: AccessTokenClaims = serde_json::from_slice(&payload)
            .map_err(|_| invalid("the token's claims are not those of an access token"))?;
        self.check(&claims.iss, &claims.aud, claims.exp, claims.nbf)?;
        Ok(Caller {
            kind: if claims.sub == claims.client_id {
                CallerKind::App
            } else {
                CallerKind::User
            },
            scopes: claims
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            subject: claims.sub,
            client_id: claims.client_id,
            org_id: claims.org_id,
            expires_at: claims.exp,
            jkt: claims.cnf.map(|c| c.jkt),
        })
    }

    fn check(
        &self,
        iss: &str,
        aud: &Audience,
        exp: i64,
        nbf: Option<i64>,
    ) -> Result<(), TokenError> {
        if iss != self.config.issuer {
            return Err(invalid("the token is from another issuer"));
        }
        if !aud.contains(&self.config.audience) {
            return Err(invalid("the token is not meant for this resource server"));
        }
        let now = self.clock.now();
        if exp + self.config.leeway_seconds <= now {
            return Err(invalid("the token has expired"));
        }
        if nbf.is_some_and(|nbf| nbf - self.config.leeway_seconds > now) {
            return Err(invalid("the token is not valid yet"));
        }
        Ok(())
    }

    async fn introspect(
        &self,
        token: &str,
        cfg: &IntrospectionConfig,
    ) -> Result<Caller, TokenError> {
        let key = cache_key(token);
        // A remembered answer is reused for `cache_ttl`, but a token it accepted never past
        // its own expiry.
        if let Ok(mut cache) = self.introspected.lock()
            && let Some((at, answer)) = cache.get(&key)
            && at.elapsed() < cfg.cache_ttl
            && answer
                .as_ref()
                .map_or(true, |caller| caller.expires_at > self.clock.now())
        {
            return answer.clone();
        }
        let endpoint = self
            .metadata()
            .await?
            .introspection_endpoint
            .clone()
            .ok_or_else(|| {
                TokenError::Unavailable("Grantor publishes no introspection endpoint".into())
            })?;
        let answer: Introspection = fetch_json(
            self.http
                .post(&endpoint)
                .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
                .form(&[("token", token)]),
        )
        .await
        .map_err(|e: reqwest::Error| {
            TokenError::Unavailable(format!("introspection failed: {e}"))
        })?;
        let result = self.caller_from_introspection(answer);
        if let Ok(mut cache) = self.introspected.lock() {
            cache.put(key, (Instant::now(), result.clone()));
        }
        result
    }

    fn caller_from_introspection(&self, answer: Introspection) -> Result<Caller, TokenError> {
        let jkt = answer.cnf.map(|c| c.jkt);
        let typed = match answer.token_type.as_deref() {
            Some("Bearer") => jkt.is_none(),
            Some("DPoP") => jkt.is_some(),
            _ => false,
        };
        if !answer.active || !typed {
            return Err(invalid("the token is not active"));
        }
        let (Some(iss), Some(aud), Some(exp), Some(sub), Some(client_id), Some(org_id)) = (
            answer.iss,
            answer.aud,
            answer.exp,
            answer.sub,
            answer.client_id,
            answer.org_id,
        ) else {
            return Err(invalid("the introspection answer is incomplete"));
        };
        self.check(&iss, &aud, exp, None)?;
        Ok(Caller {
            kind: if sub == client_id {
                CallerKind::App
            } else {
                CallerKind::User
            },
            scopes: answer
                .scope
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            subject: sub,
            client_id,
            org_id,
            expires_at: exp,
            jkt,
        })
    }
}
