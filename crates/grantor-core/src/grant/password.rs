//! The resource owner password grant (RFC 6749 4.3): legacy, only for apps that enabled it,
//! throttled like the login page.

use super::{parse_scope, require_subset};
use crate::login::LoginError;
use crate::params::Params;
use crate::provider::{Provider, Subject, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{
    Client, GrantStore, MemberStore, OrganizationStore, Registry, SecondFactorStore, ThrottleStore,
    UserStore,
};
use crate::token::TokenResponse;
use crate::{ErrorCode, OAuthError};
use std::net::IpAddr;

#[derive(Clone)]
pub struct Request {
    pub username: String,
    pub password: String,
    pub scope: Option<ScopeSet>,
    pub organization: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("username", &self.username)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            username: params.require("username")?.to_string(),
            password: params.require("password")?.to_string(),
            scope: parse_scope(params)?,
            organization: params.get("organization").map(str::to_string),
        })
    }
}

pub async fn exchange<
    S: Registry
        + GrantStore
        + UserStore
        + MemberStore
        + ThrottleStore
        + SecondFactorStore
        + crate::store::PasskeyStore
        + OrganizationStore,
>(
    provider: &Provider<S>,
    client: &Client,
    req: Request,
    peer: IpAddr,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let now = provider.clock.now();
    let signed_in = provider
        .check_password(&req.username, &req.password, peer)
        .await;
    let user = match signed_in {
        Ok(user) => user,
        Err(LoginError::Invalid) => {
            return Err(OAuthError::invalid_grant(
                "the username or password is incorrect",
            ));
        }
        Err(LoginError::TooLong) => {
            return Err(OAuthError::invalid_request(
                "the username or password is longer than any account's",
            ));
        }
        Err(LoginError::Throttled(wait)) => {
            let mut e = OAuthError::new(
                ErrorCode::SlowDown,
                format!("too many failed attempts; try again in {wait} seconds"),
            );
            e.retry_after = Some(wait.unsigned_abs());
            return Err(e);
        }
        Err(LoginError::Disabled) => {
            return Err(OAuthError::invalid_grant("the user's account is disabled"));
        }
        Err(LoginError::Busy) => {
            let mut e = OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many sign-ins are being checked; try again in a moment",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        Err(LoginError::Store(e)) => return Err(e.into()),
    };
    // Said only to someone who knew the password, so it tells a guesser nothing.
    if provider
        .store
        .totp(&user.id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some())
        || !provider.store.passkeys(&user.id).await?.is_empty()
    {
        return Err(OAuthError::invalid_grant(
            "this account signs in with a second factor, which the password grant cannot carry; \
             sign in through the authorization code flow",
        ));
    }
    let orgs = provider.eligible_orgs(&user.id, client).await?;
    let org = match (&req.organization, orgs.as_slice()) {
        (Some(wanted), _) => orgs
            .iter()
            .find(|m| &m.org_id == wanted || &m.org_name == wanted)
            .ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "the user cannot use this app in organization {wanted:?}"
                ))
            })?,
        (None, [only]) => only,
        (None, []) => {
            return Err(OAuthError::invalid_grant(
                "the user is not a member of an organization that uses this app",
            ));
        }
        (None, _) => {
            return Err(OAuthError::invalid_request(
                "the user belongs to several organizations; name one with the organization parameter",
            ));
        }
    };
    // The password grant cannot carry a second factor: an organization (the app's, or the
    // one the tokens would act in) that requires one takes none of its tokens.
    for org_id in [client.app.org_id.as_str(), org.org_id.as_str()] {
        if provider
            .store
            .organization(org_id)
            .await?
            .is_some_and(|o| o.require_second_factor)
        {
            return Err(OAuthError::invalid_grant(
                "this organization requires a second factor, which the password grant cannot \
                 carry; sign in through the authorization code flow",
            ));
        }
    }
    let asked = match req.scope {
        Some(asked) => {
            require_subset(&asked, &client.app.scopes, "this app may not ask for")?;
            asked
        }
        None => client.app.scopes.clone(),
    };
    let scopes = provider.scopes_available_in(client, &org.org_id, &asked);
    let grant_id = provider.create_grant(&user.id, client, &org.org_id).await?;
    let grant = UserGrant {
        subject: Subject {
            sub: user.id,
            org_id: org.org_id.clone(),
            auth_time: Some(now),
            method: Some(crate::model::SignInMethod::Password),
            grant_id: Some(grant_id),
            jkt: dpop.map(str::to_string),
        },
        scopes: scopes.clone(),
        resources: Vec::new(),
        nonce: None,
    };
    provider.issue_user_tokens(client, grant, &scopes).await
}
