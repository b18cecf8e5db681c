//! One file per grant. The token request is parsed into [`TokenRequest`], tagged by
//! `grant_type`, before any grant sees it.

pub mod client_credentials;

use crate::model::GrantType;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

#[derive(Debug, Clone)]
pub enum TokenRequest {
    ClientCredentials(client_credentials::Request),
}

impl TokenRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        match params.require("grant_type")? {
            "client_credentials" => Ok(Self::ClientCredentials(
                client_credentials::Request::parse(params)?,
            )),
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other:?} is not supported"),
            )),
        }
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::ClientCredentials(_) => GrantType::ClientCredentials,
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
