//! The client credentials grant (RFC 6749 4.4): a server app acting for itself in an
//! organization that has added it. No database access on a warm cache.

use super::{parse_resources, parse_scope, require_subset};
use crate::OAuthError;
use crate::model::OrgAccessGrant;
use crate::params::Params;
use crate::provider::{Provider, Subject};
use crate::scope::ScopeSet;
use crate::store::{Client, Registry};
use crate::token::TokenResponse;

#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Option<ScopeSet>,
    /// Which organization, by id or name, when the app was added to several.
    pub organization: Option<String>,
    pub resources: Vec<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            scope: parse_scope(params)?,
            organization: params.get("organization").map(str::to_string),
            resources: parse_resources(params),
        })
    }
}

fn pick_org<'a>(
    client: &'a Client,
    wanted: Option<&str>,
) -> Result<&'a OrgAccessGrant, OAuthError> {
    let grants = &client.org_grants;
    match wanted {
        Some(org) => grants
            .iter()
            .find(|g| g.org_id == org || g.org_name == org)
            .ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "this app has not been added to organization {org:?}"
                ))
            }),
        None => match grants.as_slice() {
            [] => Err(OAuthError::unauthorized_client(
                "this app has not been added to any organization yet; an owner must add it to the organization first",
            )),
            [only] => Ok(only),
            _ => Err(OAuthError::invalid_request(
                "this app has been added to several organizations; name one with the organization parameter",
            )),
        },
    }
}

pub async fn exchange<S: Registry>(
    provider: &Provider<S>,
    client: &Client,
    req: Request,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let grant = pick_org(client, req.organization.as_deref())?;
    // The organization's choice, within what the app may ask for now (its scopes may have
    // been narrowed since it was added).
    let granted = grant.scopes.intersection(&client.app.scopes);
    let mut scopes = match req.scope {
        Some(asked) => {
            require_subset(
                &asked,
                &granted,
                &format!("organization {} has not granted this app", grant.org_name),
            )?;
            asked
        }
        None => granted,
    };
    let audiences = provider
        .target(&mut scopes, &req.resources, &grant.org_id)
        .await?;
    let subject = Subject {
        sub: client.app.client_id.clone(),
        org_id: grant.org_id.clone(),
        auth_time: None,
        method: None,
        grant_id: None,
        jkt: dpop.map(str::to_string),
    };
    let (access_token, claims) = provider.mint_access_token(client, subject, &scopes, audiences)?;
    Ok(TokenResponse {
        access_token,
        token_type: claims.token_type().into(),
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}
