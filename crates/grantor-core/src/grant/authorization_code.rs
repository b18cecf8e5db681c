//! The authorization code grant (RFC 6749 4.1.3) with PKCE (RFC 7636). A code is used once:
//! a second use revokes everything the first produced (RFC 9700 4.5).

use crate::params::Params;
use crate::provider::{Provider, Subject, UserGrant};
use crate::store::{Client, GrantStore, Registry, SingleUse, UserStore};
use crate::token::TokenResponse;
use crate::{OAuthError, pkce, secret};

#[derive(Debug, Clone)]
pub struct Request {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            code: params.require("code")?.to_string(),
            redirect_uri: params.get("redirect_uri").map(str::to_string),
            code_verifier: params.get("code_verifier").map(str::to_string),
        })
    }
}

pub async fn exchange<S: Registry + GrantStore + UserStore>(
    provider: &Provider<S>,
    client: &Client,
    req: Request,
) -> Result<TokenResponse, OAuthError> {
    let now = provider.clock.now();
    let code = match provider
        .store
        .consume_code(&secret::hash(&req.code), now)
        .await?
    {
        SingleUse::Fresh(code) => code,
        SingleUse::Reused { grant_id } => {
            provider.store.revoke_grant(&grant_id, now).await?;
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; the tokens issued for it have been revoked",
            ));
        }
        SingleUse::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid",
            ));
        }
    };
    if code.client_id != client.app.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another app",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if code.redirect_uri.is_some() && code.redirect_uri != req.redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request",
        ));
    }
    match (&code.code_challenge, &req.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        // A verifier without a challenge could mean a code injected from another session.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    if provider.store.is_grant_revoked(&code.grant_id).await? {
        return Err(OAuthError::invalid_grant(
            "the authorization has been revoked",
        ));
    }
    let scopes = code.scopes.clone();
    let grant = UserGrant {
        subject: Subject {
            sub: code.user_id,
            org_id: code.org_id,
            auth_time: Some(code.auth_time),
            grant_id: Some(code.grant_id),
        },
        scopes: scopes.clone(),
        resources: code.resources,
        nonce: code.nonce,
    };
    provider.issue_user_tokens(client, grant, &scopes).await
}
