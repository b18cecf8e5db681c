//! API tokens: what a user's scripts act with.

use super::Governed;
use super::{Manager, refuse_control_characters};
use crate::model::{ApiToken, AuditAction, Caller, Role};
use crate::policy::{self, Action};
use crate::scope::{self, ScopeSet};
use crate::store::{ApiTokenStore, OrgResources, Registry, UserStore};
use crate::{FieldErrors, ServiceError, secret};
use serde_json::json;

/// API tokens live 90 days unless asked otherwise, and at most a year.
pub const API_TOKEN_DEFAULT_TTL: i64 = 90 * 24 * 3600;

pub const API_TOKEN_MAX_TTL: i64 = 365 * 24 * 3600;

/// What a user asks for in an API token.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub name: String,
    pub scopes: Vec<String>,
    /// Seconds from now; 90 days when absent.
    pub expires_in: Option<i64>,
}

/// An API token's name, scopes and lifetime (seconds), checked: a `role`'s token may hold
/// the management scopes `allowed` it, OIDC scopes and the scopes of the resource servers of
/// its organization `org_id`.
fn api_token_fields(
    new: NewApiToken,
    role: Role,
    allowed: &ScopeSet,
    index: &OrgResources,
) -> Result<(String, ScopeSet, i64), ServiceError> {
    let mut invalid = FieldErrors::default();
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        invalid.add("name", "an API token's name must be 1 to 100 characters");
    }
    refuse_control_characters(&mut invalid, "name", name);
    let scopes: ScopeSet = new.scopes.into_iter().collect();
    if scopes.is_empty() {
        invalid.add("scopes", "an API token needs at least one scope");
    }
    let refused: Vec<&str> = scopes
        .iter()
        .filter(|s| {
            if scope::is_management(s) {
                !allowed.contains(s)
            } else {
                !scope::is_oidc(s) && index.servers_of(s).is_empty()
            }
        })
        .collect();
    if !refused.is_empty() {
        invalid.add(
            "scopes",
            format!(
                "not scopes a {role} may put in an API token: {}",
                refused.join(" ")
            ),
        );
    }
    let lifetime = new.expires_in.unwrap_or(API_TOKEN_DEFAULT_TTL);
    if !(60..=API_TOKEN_MAX_TTL).contains(&lifetime) {
        invalid.add(
            "expires_in",
            "an API token expires after 60 seconds to one year (31536000 seconds)",
        );
    }
    invalid.finish()?;
    Ok((name.to_string(), scopes, lifetime))
}

impl<S: Governed + UserStore + Registry + ApiTokenStore> Manager<S> {
    /// Makes an API token for `email` in `org`; the token itself exists in clear only in the
    /// answer.
    pub async fn create_api_token(
        &self,
        actor: &Caller,
        org: &str,
        email: &str,
        new: NewApiToken,
    ) -> Result<(ApiToken, String), ServiceError> {
        // An organization the user is not in is as unknown as one that does not exist.
        let not_found = || ServiceError::NotFound(format!("organization {org:?}"));
        let org = self.store.organization(org).await?.ok_or_else(not_found)?;
        let user = self.user_for(actor, email).await?;
        let role = self
            .store
            .membership(&org.id, &user.id)
            .await?
            .map(|m| m.role)
            .ok_or_else(not_found)?;
        self.authorize(actor, Action::ManageOwnApiTokens, &org.id)
            .await?;
        let allowed = policy::management_scopes_for(role, user.platform_admin);
        let index = self.store.org_resources(&org.id).await?;
        let (name, scopes, lifetime) = api_token_fields(new, role, &allowed, &index)?;
        // What a token mints is within what it holds itself.
        let beyond = policy::beyond_holding(actor, &scopes);
        if !beyond.is_empty() {
            return Err(ServiceError::Forbidden(format!(
                "an API token cannot carry scopes the calling token does not hold: {}",
                beyond.join(" ")
            )));
        }
        let secret = secret::generate(secret::Kind::ApiToken)?;
        let now = self.clock.now();
        let token = ApiToken {
            id: secret::new_id("tok_")?,
            user_id: user.id.clone(),
            org_id: org.id.clone(),
            name,
            scopes,
            token_hash: secret::hash(&secret),
            created_at: now,
            expires_at: now + lifetime,
            last_used_at: None,
            revoked_at: None,
        };
        let audit = self.audit(
            actor,
            AuditAction::ApiTokenCreate,
            &token.id,
            Some(&org.id),
            json!({"user": user.id, "name": token.name, "scopes": token.scopes}),
        )?;
        self.store.create_api_token(&token, &audit).await?;
        Ok((token, secret))
    }

    pub async fn api_tokens(
        &self,
        actor: &Caller,
        email: &str,
    ) -> Result<Vec<ApiToken>, ServiceError> {
        let user = self.user_for(actor, email).await?;
        policy::may_manage_api_tokens(actor)?;
        let mut tokens = self.store.api_tokens_of_user(&user.id).await?;
        tokens.retain(|t| policy::reaches_api_token(actor, &t.org_id));
        Ok(tokens)
    }

    /// Revokes an API token: it can no longer be exchanged, and access tokens already
    /// exchanged for it stop passing introspection.
    pub async fn revoke_api_token(&self, actor: &Caller, id: &str) -> Result<(), ServiceError> {
        let not_found = || ServiceError::NotFound(format!("API token {id:?}"));
        let token = self
            .store
            .api_token(id)
            .await?
            .filter(|t| policy::owns(actor, &t.user_id))
            .ok_or_else(not_found)?;
        policy::may_manage_api_tokens(actor)?;
        if !policy::reaches_api_token(actor, &token.org_id) {
            return Err(not_found());
        }
        let audit = self.audit(
            actor,
            AuditAction::ApiTokenRevoke,
            &token.id,
            Some(&token.org_id),
            json!({}),
        )?;
        if self
            .store
            .revoke_api_token(&token.id, self.clock.now(), &audit)
            .await?
        {
            Ok(())
        } else {
            Err(not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::tests::{fields, resource_server, scope};

    #[test]
    fn an_api_token_is_refused_with_every_invalid_field() {
        let index = OrgResources::new(vec![resource_server(
            "https://ledger.example.com",
            "Ledger",
            vec![scope("ledger:read", "Read")],
        )]);
        let allowed = policy::management_scopes_for(Role::Member, false);
        let new = |name: &str, scopes: &[&str], expires_in| NewApiToken {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_in,
        };
        let refused = api_token_fields(
            new(" ", &["ledger:read", "grantor:members", "no:such"], Some(5)),
            Role::Member,
            &allowed,
            &index,
        );
        let Err(ServiceError::InvalidFields(errors)) = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            errors[1].message.ends_with("grantor:members no:such"),
            "each refused scope is named: {errors:?}"
        );
        assert_eq!(fields(refused), ["name", "scopes", "expires_in"]);
        assert_eq!(
            fields(api_token_fields(
                new("script", &[], Some(API_TOKEN_MAX_TTL + 1)),
                Role::Member,
                &allowed,
                &index,
            )),
            ["scopes", "expires_in"]
        );
        let (name, scopes, lifetime) = api_token_fields(
            new(
                " nightly ",
                &["ledger:read", "openid", "grantor:apps"],
                None,
            ),
            Role::Member,
            &allowed,
            &index,
        )
        .unwrap();
        assert_eq!(
            (name.as_str(), lifetime),
            ("nightly", API_TOKEN_DEFAULT_TTL)
        );
        assert_eq!(scopes.to_string(), "grantor:apps ledger:read openid");
    }
}
