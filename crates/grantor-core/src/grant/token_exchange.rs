//! API-token exchange (RFC 8693): a script presents a user's API token, with no client
//! authentication, and gets a short access token acting as that user in the token's
//! organization. What the token carries is re-checked at every exchange: it must be live,
//! its user still a member, and its scopes still within what the user's role allows.

use super::{parse_resources, parse_scope, require_subset};
use crate::params::Params;
use crate::policy;
use crate::provider::{Provider, Subject};
use crate::scope::{self, ScopeSet};
use crate::secret;
use crate::store::{ApiTokenStore, OrganizationStore, Registry, SecondFactorStore};
use crate::token::TokenResponse;
use crate::{ErrorCode, OAuthError};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Grantor's token type for API tokens as a `subject_token_type`.
pub const API_TOKEN_TYPE: &str = "urn:grantor:params:oauth:token-type:api-token";
/// What an exchange issues (RFC 8693 3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

#[derive(Clone)]
pub struct Request {
    pub subject_token: String,
    pub scope: Option<ScopeSet>,
    pub resources: Vec<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let subject_token = params.require("subject_token")?;
        if params.require("subject_token_type")? != API_TOKEN_TYPE {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type must be {API_TOKEN_TYPE}"
            )));
        }
        if params
            .get("requested_token_type")
            .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
        {
            return Err(OAuthError::invalid_request(format!(
                "only {ACCESS_TOKEN_TYPE} can be requested"
            )));
        }
        if params.get("actor_token").is_some() {
            return Err(OAuthError::invalid_request(
                "delegation (actor_token) is not supported",
            ));
        }
        Ok(Self {
            subject_token: subject_token.to_string(),
            scope: parse_scope(params)?,
            resources: parse_resources(params),
        })
    }
}

fn refused(why: &str) -> OAuthError {
    OAuthError::invalid_grant(why)
}

pub async fn exchange<
    S: Registry + ApiTokenStore + OrganizationStore + SecondFactorStore + crate::store::PasskeyStore,
>(
    provider: &Provider<S>,
    req: Request,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let now = provider.clock.now();
    // Anything not shaped like an API token is refused before any lookup.
    if !secret::has_shape(&req.subject_token, secret::Kind::ApiToken) {
        return Err(refused("the API token is invalid"));
    }
    let holder = provider
        .store
        .api_token_holder(&secret::hash(&req.subject_token))
        .await?
        .ok_or_else(|| refused("the API token is invalid"))?;
    let token = holder.token;
    if token.revoked_at.is_some() {
        return Err(refused("the API token has been revoked"));
    }
    if token.expires_at <= now {
        return Err(refused("the API token has expired"));
    }
    let user = holder
        .user
        .ok_or_else(|| refused("the API token's user no longer exists"))?;
    if user.disabled {
        return Err(refused("the API token's user is disabled"));
    }
    let role = user
        .role
        .ok_or_else(|| refused("the API token's user is no longer a member of its organization"))?;
    // An organization that requires a second factor takes API tokens only from users who
    // have one: the token stands for its user, who must meet the organization's rule.
    if provider
        .store
        .organization(&token.org_id)
        .await?
        .is_some_and(|org| org.require_second_factor)
        && !crate::manage::enrolled(&provider.store, &token.user_id).await?
    {
        return Err(refused(
            "the API token's organization requires a second factor, and its user has none set up: \
             set up an authenticator app at /account/security",
        ));
    }
    // What the user may still do: their role may have changed since the token was made.
    let allowed_management = policy::management_scopes_for(role, user.platform_admin);
    let allowed: ScopeSet = token
        .scopes
        .iter()
        .filter(|s| !scope::is_management(s) || allowed_management.contains(s))
        .collect();
    let mut scopes = match req.scope {
        Some(asked) => {
            require_subset(&asked, &allowed, "the API token does not carry")?;
            asked
        }
        None => allowed,
    };
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "none of the API token's scopes is allowed for its user any more",
        ));
    }
    let audiences = provider
        .target(&mut scopes, &req.resources, &token.org_id)
        .await?;
    let subject = Subject {
        sub: token.user_id,
        org_id: token.org_id,
        auth_time: None,
        method: None,
        // Revoking the API token makes what it issued inactive, as a revoked grant does.
        grant_id: Some(token.id.clone()),
        jkt: dpop.map(str::to_string),
    };
    let ttl = provider.settings.access_token_ttl;
    let (access_token, claims) = provider.mint(&token.id, ttl, subject, &scopes, audiences)?;
    provider.store.touch_api_token(&token.id, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: claims.token_type().into(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(ACCESS_TOKEN_TYPE.into()),
    })
}
