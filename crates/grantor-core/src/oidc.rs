//! OpenID Connect: ID tokens (OIDC Core 2) and the claims behind `profile` and `email`.

use crate::OAuthError;
use crate::jose::{Alg, left_half_hash};
use crate::model::User;
use crate::provider::{Provider, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{Client, UserStore};
use serde_json::{Map, Value, json};

/// Standard claims for the granted scopes.
pub fn user_claims(user: &User, scopes: &ScopeSet, org_id: Option<&str>) -> Value {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    if scopes.contains("profile") {
        claims.insert("name".into(), json!(user.name));
        claims.insert("preferred_username".into(), json!(user.email));
    }
    if scopes.contains("email") {
        claims.insert("email".into(), json!(user.email));
        // True only once a mailed link (or an invitation mailed to the address) proved that
        // it reaches its user: apps may trust it to link or recover accounts.
        claims.insert(
            "email_verified".into(),
            json!(user.email_verified_at.is_some()),
        );
    }
    if let Some(org) = org_id {
        claims.insert("org_id".into(), json!(org));
    }
    Value::Object(claims)
}

/// An ID token for `grant`, bound to `access_token` through `at_hash`. Signed with RS256, the
/// algorithm every OpenID relying party must support.
pub async fn id_token<S: UserStore>(
    provider: &Provider<S>,
    client: &Client,
    grant: &UserGrant,
    access_token: &str,
) -> Result<String, OAuthError> {
    let user = provider
        .store
        .user(&grant.subject.sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let now = provider.clock.now();
    let mut claims = user_claims(&user, &grant.scopes, Some(&grant.subject.org_id));
    if let Value::Object(map) = &mut claims {
        map.insert("iss".into(), json!(provider.settings.issuer));
        map.insert("aud".into(), json!(client.app.client_id));
        map.insert("azp".into(), json!(client.app.client_id));
        map.insert("iat".into(), json!(now));
        map.insert("exp".into(), json!(now + 3600));
        map.insert(
            "auth_time".into(),
            json!(grant.subject.auth_time.unwrap_or(now)),
        );
        if let Some(method) = grant.subject.method {
            map.insert("amr".into(), json!(method.amr()));
            map.insert("acr".into(), json!(method.acr()));
        }
        map.insert("at_hash".into(), json!(left_half_hash(access_token)));
        if let Some(nonce) = &grant.nonce {
            map.insert("nonce".into(), json!(nonce));
        }
    }
    let keys = provider.keys.current();
    let signer = keys
        .signer(Alg::RS256)
        .ok_or_else(|| OAuthError::server_error("no active RS256 signing key"))?;
    signer
        .sign("JWT", &claims)
        .map_err(|e| OAuthError::server_error(format!("signing: {e}")))
}
