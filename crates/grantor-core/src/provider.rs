//! The protocol engine: client authentication, the token endpoint's dispatch to grants,
//! introspection and revocation. Handlers call this and nothing deeper.

use crate::client_auth::{self, ClientCredentials};
use crate::error::ErrorCode;
use crate::grant::{self, TokenRequest};
use crate::jose::{self, Alg};
use crate::keyring::KeyRing;
use crate::model::GrantType;
use crate::scope::ScopeSet;
use crate::secret;
use crate::store::{Client, Registry, ResourceIndex, RevocationStore};
use crate::token::{ACCESS_TOKEN_TYP, AccessTokenClaims, Audience, Introspection, TokenResponse};
use crate::{Clock, OAuthError};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Byte-identical to what discovery publishes and tokens carry in `iss`.
    pub issuer: String,
    /// Default access-token lifetime, seconds.
    pub access_token_ttl: i64,
}

pub struct Provider<S> {
    pub store: S,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<KeyRing>,
}

/// Who an access token is for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sub: String,
    pub org_id: String,
    pub auth_time: Option<i64>,
    pub grant_id: Option<String>,
}

/// Checks `resource` parameters (RFC 8707): absolute URIs naming known resource servers.
pub fn resolve_resources<'a>(
    index: &'a ResourceIndex,
    requested: &[String],
) -> Result<Vec<&'a str>, OAuthError> {
    requested
        .iter()
        .map(|r| {
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
            index
                .by_identifier(r)
                .map(|rs| rs.identifier.as_str())
                .ok_or_else(|| {
                    OAuthError::new(ErrorCode::InvalidTarget, format!("unknown resource {r}"))
                })
        })
        .collect()
}

impl<S: Registry + RevocationStore> Provider<S> {
    /// Finds the client and verifies its credentials.
    pub async fn authenticate_client(
        &self,
        creds: &ClientCredentials,
    ) -> Result<Arc<Client>, OAuthError> {
        let client = self.store.client(&creds.client_id).await?.ok_or_else(|| {
            OAuthError::invalid_client("client authentication failed")
                .with_detail(format!("unknown client_id {}", creds.client_id))
        })?;
        client_auth::authenticate(&client.app, creds, self.clock.now())?;
        Ok(client)
    }

    /// The token endpoint (RFC 6749 section 3.2).
    pub async fn token(
        &self,
        creds: &ClientCredentials,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(creds).await?;
        let grant_type = request.grant_type();
        if !client.app.allows(grant_type) {
            return Err(OAuthError::unauthorized_client(format!(
                "this {} app may not use the {} grant",
                client.app.app_type.as_str(),
                grant_type.as_str()
            )));
        }
        match request {
            TokenRequest::ClientCredentials(req) => {
                grant::client_credentials::exchange(self, &client, req).await
            }
        }
    }

    /// Mints a signed access token; `scopes` are final, `audiences` already resolved.
    pub fn mint_access_token(
        &self,
        client: &Client,
        subject: Subject,
        scopes: &ScopeSet,
        audiences: Vec<String>,
    ) -> Result<(String, AccessTokenClaims), OAuthError> {
        let now = self.clock.now();
        let ttl = if client.app.access_token_ttl > 0 {
            client.app.access_token_ttl
        } else {
            self.settings.access_token_ttl
        };
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
            jti: secret::new_id("at_")?,
            client_id: client.app.client_id.clone(),
            scope: scopes.to_string(),
            org_id: subject.org_id,
            auth_time: subject.auth_time,
            grant_id: subject.grant_id,
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
        let keys = self.keys.current();
        let (header, payload) =
            jose::verify(token, &[Alg::ES256, Alg::RS256], |kid| keys.verifier(kid)).ok()?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let claims: AccessTokenClaims = serde_json::from_slice(&payload).ok()?;
        (claims.iss == self.settings.issuer && claims.exp > self.clock.now()).then_some(claims)
    }

    /// Token introspection (RFC 7662), for confidential apps.
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
        let Some(claims) = self.verify_access_token(token) else {
            return Ok(Introspection::default());
        };
        if self.store.is_access_token_revoked(&claims.jti).await? {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            jti: Some(claims.jti),
            token_type: Some("Bearer".into()),
            org_id: Some(claims.org_id),
        })
    }

    /// Token revocation (RFC 7009). Unknown, expired or foreign tokens answer success too,
    /// so the endpoint reveals nothing about tokens the caller does not hold.
    pub async fn revoke(&self, creds: &ClientCredentials, token: &str) -> Result<(), OAuthError> {
        let caller = self.authenticate_client(creds).await?;
        if let Some(claims) = self.verify_access_token(token)
            && claims.client_id == caller.app.client_id
        {
            self.store
                .revoke_access_token(&claims.jti, claims.exp)
                .await?;
        }
        Ok(())
    }
}

/// The grant types a token request may name, for discovery metadata.
pub const SUPPORTED_GRANTS: [GrantType; 1] = [GrantType::ClientCredentials];
