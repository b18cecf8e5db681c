//! One file per grant. The token request is parsed into [`TokenRequest`], tagged by
//! `grant_type`, before any grant sees it.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;
pub mod token_exchange;

use crate::model::GrantType;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// A token request: one an app makes for itself or its user, authenticated as that app, or
/// the exchange of a user's API token, where no app takes part.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    App(AppGrant),
    TokenExchange(token_exchange::Request),
}

/// The grants an app uses, each after client authentication.
#[derive(Debug, Clone)]
pub enum AppGrant {
    AuthorizationCode(authorization_code::Request),
    ClientCredentials(client_credentials::Request),
    RefreshToken(refresh_token::Request),
    Password(password::Request),
    DeviceCode(device_code::Request),
}

impl TokenRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let app = match params.require("grant_type")? {
            "authorization_code" => {
                AppGrant::AuthorizationCode(authorization_code::Request::parse(params)?)
            }
            "client_credentials" => {
                AppGrant::ClientCredentials(client_credentials::Request::parse(params)?)
            }
            "refresh_token" => AppGrant::RefreshToken(refresh_token::Request::parse(params)?),
            "password" => AppGrant::Password(password::Request::parse(params)?),
            device_code::GRANT_TYPE => AppGrant::DeviceCode(device_code::Request::parse(params)?),
            token_exchange::GRANT_TYPE => {
                return Ok(Self::TokenExchange(token_exchange::Request::parse(params)?));
            }
            other => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!("grant_type {other:?} is not supported"),
                ));
            }
        };
        Ok(Self::App(app))
    }
}

impl AppGrant {
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode(_) => GrantType::AuthorizationCode,
            Self::ClientCredentials(_) => GrantType::ClientCredentials,
            Self::RefreshToken(_) => GrantType::RefreshToken,
            Self::Password(_) => GrantType::Password,
            Self::DeviceCode(_) => GrantType::DeviceCode,
        }
    }
}

/// The optional `scope` parameter, validated.
pub fn parse_scope(params: &Params) -> Result<Option<ScopeSet>, OAuthError> {
    params
        .get("scope")
        .map(|s| {
            ScopeSet::parse(s)
                .map_err(|bad| OAuthError::invalid_scope(format!("{bad:?} is not a valid scope")))
        })
        .transpose()
}

pub fn parse_resources(params: &Params) -> Vec<String> {
    params.all("resource").map(str::to_string).collect()
}

/// Refuses scopes outside `allowed`, naming them.
pub fn require_subset(asked: &ScopeSet, allowed: &ScopeSet, whose: &str) -> Result<(), OAuthError> {
    let missing = asked.missing_from(allowed);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OAuthError::invalid_scope(format!(
            "{whose}: {}",
            missing.join(" ")
        )))
    }
}
