//! The refresh token grant (RFC 6749 6), with rotation: every use returns a new refresh
//! token, and presenting a rotated one revokes the whole family (RFC 9700 4.14.2).

use super::{parse_resources, parse_scope, require_subset};
use crate::params::Params;
use crate::provider::{Provider, Subject, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{Client, GrantStore, MemberStore, Registry, SingleUse, UserStore};
use crate::token::TokenResponse;
use crate::{OAuthError, secret};

#[derive(Debug, Clone)]
pub struct Request {
    pub refresh_token: String,
    pub scope: Option<ScopeSet>,
    pub resources: Vec<String>,
}

impl Request {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            refresh_token: params.require("refresh_token")?.to_string(),
            scope: parse_scope(params)?,
            resources: parse_resources(params),
        })
    }
}

pub async fn exchange<S: Registry + GrantStore + UserStore + MemberStore>(
    provider: &Provider<S>,
    client: &Client,
    req: Request,
    dpop: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let now = provider.clock.now();
    let hash = secret::hash(&req.refresh_token);
    // Check the request before rotating, so neither another app nor a bad parameter can
    // burn this app's token.
    let original = match provider.store.refresh_token(&hash).await? {
        Some((rt, _)) if rt.client_id != client.app.client_id => {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another app",
            ));
        }
        // A bound refresh token (a public app's, RFC 9449 5) needs a proof by its key; a
        // wrong or missing proof burns nothing.
        Some((rt, _)) if rt.dpop_jkt.is_some() && rt.dpop_jkt.as_deref() != dpop => {
            return Err(OAuthError::new(
                crate::ErrorCode::InvalidDpopProof,
                "the refresh token is bound to a DPoP key: send a proof made with that key",
            ));
        }
        Some((rt, _)) => rt.scopes.clone(),
        None => return Err(OAuthError::invalid_grant("the refresh token is invalid")),
    };
    let scopes = match req.scope {
        Some(asked) => {
            require_subset(
                &asked,
                &original,
                "a refresh can narrow the scope, not widen it; not granted",
            )?;
            asked
        }
        None => original.clone(),
    };
    let rt = match provider.store.rotate_refresh_token(&hash, now).await? {
        SingleUse::Fresh(rt) => rt,
        SingleUse::Reused { grant_id } => {
            provider.store.revoke_grant(&grant_id, now).await?;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of this authorization has been revoked",
            ));
        }
        SingleUse::Unknown => {
            return Err(OAuthError::invalid_grant("the refresh token is invalid"));
        }
    };
    if rt.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    if provider.store.is_grant_revoked(&rt.grant_id).await? {
        return Err(OAuthError::invalid_grant(
            "the authorization has been revoked",
        ));
    }
    // The user must still belong to the organization the authorization was for.
    if !provider
        .eligible_orgs(&rt.user_id, client)
        .await?
        .iter()
        .any(|m| m.org_id == rt.org_id)
    {
        provider.store.revoke_grant(&rt.grant_id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the user no longer belongs to the organization",
        ));
    }
    // What the app may get in this organization now: the app's scopes, or the choice of an
    // organization that added it, may have shrunk since the user approved.
    let allowed = provider.scopes_available_in(client, &rt.org_id, &original);
    let scopes = scopes.intersection(&allowed);
    if scopes.is_empty() {
        provider.store.revoke_grant(&rt.grant_id, now).await?;
        return Err(OAuthError::invalid_grant(
            "none of the scopes this authorization granted is allowed any more",
        ));
    }
    let resources = if req.resources.is_empty() {
        rt.resources.clone()
    } else {
        req.resources
    };
    let grant = UserGrant {
        subject: Subject {
            sub: rt.user_id,
            org_id: rt.org_id,
            auth_time: Some(rt.auth_time),
            method: Some(rt.method),
            grant_id: Some(rt.grant_id),
            // A bound refresh token keeps its key: the proof matched it above.
            jkt: dpop.map(str::to_string),
        },
        scopes,
        resources,
        nonce: None,
    };
    provider.issue_user_tokens(client, grant, &allowed).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{REDIRECT_URI, World, ok, refused, scopes};
    use crate::token::TokenResponse;

    fn request(token: &TokenResponse, scope: Option<&str>) -> Request {
        Request {
            refresh_token: token.refresh_token.clone().unwrap_or_default(),
            scope: scope.map(scopes),
            resources: Vec::new(),
        }
    }

    /// The tokens of a fresh authorization of `app` by the member, for `granted`.
    async fn signed_in(w: &World, app: &Client, granted: &str) -> TokenResponse {
        let code = w.code(app, &w.member, granted, None).await;
        let req = crate::grant::authorization_code::Request {
            code,
            redirect_uri: Some(REDIRECT_URI.into()),
            code_verifier: None,
        };
        ok(crate::grant::authorization_code::exchange(&w.provider, app, req, None).await)
    }

    /// The tokens of a fresh authorization of `app` by the member, exchanged with a DPoP
    /// proof by key `jkt`.
    async fn bound(w: &World, app: &Client, jkt: &str) -> TokenResponse {
        let code = w.code(app, &w.member, "profile", None).await;
        let req = crate::grant::authorization_code::Request {
            code,
            redirect_uri: Some(REDIRECT_URI.into()),
            code_verifier: None,
        };
        ok(crate::grant::authorization_code::exchange(&w.provider, app, req, Some(jkt)).await)
    }

    #[tokio::test]
    async fn a_public_apps_refresh_token_needs_its_dpop_key_a_confidential_apps_does_not() {
        let w = World::new().await;
        let native = w
            .app_with(crate::testing::new_app(
                crate::model::AppType::Native,
                "CLI",
                &["profile"],
            ))
            .await;
        let first = bound(&w, &native, "key-a").await;
        assert_eq!(first.token_type, "DPoP");
        for proof in [None, Some("key-b")] {
            let e = exchange(&w.provider, &native, request(&first, None), proof).await;
            assert_eq!(
                e.map_err(|e| e.code).err(),
                Some(crate::ErrorCode::InvalidDpopProof)
            );
        }
        // Nothing was spent by the refusals; the rotated token stays bound.
        let second = ok(exchange(&w.provider, &native, request(&first, None), Some("key-a")).await);
        assert_eq!(second.token_type, "DPoP");
        let e = exchange(&w.provider, &native, request(&second, None), None).await;
        assert_eq!(
            e.map_err(|e| e.code).err(),
            Some(crate::ErrorCode::InvalidDpopProof)
        );

        // A web app authenticates; its refresh token is not bound, and what it issues is
        // bound only when a proof comes.
        let web = w.web_app(&["profile"]).await;
        let first = bound(&w, &web, "key-a").await;
        let plain = ok(exchange(&w.provider, &web, request(&first, None), None).await);
        assert_eq!(plain.token_type, "Bearer");
        let again = ok(exchange(&w.provider, &web, request(&plain, None), Some("key-b")).await);
        assert_eq!(again.token_type, "DPoP");
    }

    #[tokio::test]
    async fn each_refresh_rotates_and_a_replayed_token_revokes_the_family() {
        let w = World::new().await;
        let app = w.web_app(&["profile", "email"]).await;
        let first = signed_in(&w, &app, "profile email").await;
        let second = ok(exchange(&w.provider, &app, request(&first, None), None).await);
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.scope, "email profile");
        let third = ok(exchange(&w.provider, &app, request(&second, None), None).await);

        let replay = refused(exchange(&w.provider, &app, request(&first, None), None).await);
        assert!(replay.contains("already used"), "{replay}");
        // The newest token, never used, is gone with its family.
        let newest = refused(exchange(&w.provider, &app, request(&third, None), None).await);
        assert!(newest.contains("revoked"), "{newest}");
    }

    #[tokio::test]
    async fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
        let w = World::new().await;
        let app = w.web_app(&["profile", "email"]).await;
        let first = signed_in(&w, &app, "profile").await;
        let wider = exchange(
            &w.provider,
            &app,
            request(&first, Some("profile email")),
            None,
        )
        .await;
        assert_eq!(
            wider.map_err(|e| e.code).err(),
            Some(crate::ErrorCode::InvalidScope)
        );
        // A refused widening burns nothing: the token still works, narrowed.
        let narrowed =
            ok(exchange(&w.provider, &app, request(&first, Some("profile")), None).await);
        assert_eq!(narrowed.scope, "profile");
    }

    #[tokio::test]
    async fn a_refresh_is_refused_for_another_app_after_expiry_or_after_leaving() {
        let w = World::new().await;
        let app = w.web_app(&["profile"]).await;
        let other = w.web_app(&["profile"]).await;
        let tokens = signed_in(&w, &app, "profile").await;
        let said = refused(exchange(&w.provider, &other, request(&tokens, None), None).await);
        assert!(said.contains("another app"), "{said}");

        w.clock.advance(w.provider.settings.refresh_token_ttl);
        let said = refused(exchange(&w.provider, &app, request(&tokens, None), None).await);
        assert!(said.contains("expired"), "{said}");

        let tokens = signed_in(&w, &app, "profile").await;
        let owner = World::signed_in(&w.owner);
        ok(w.manager
            .remove_member(&owner, &w.org.name, &w.member.email)
            .await);
        let said = refused(exchange(&w.provider, &app, request(&tokens, None), None).await);
        assert!(said.contains("no longer belongs"), "{said}");
    }
}
