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
    dpop: Option<&str>,
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
    // RFC 9449 10: a code bound to a key at the authorization endpoint is exchanged only with
    // a proof by that key.
    if let Some(bound) = &code.dpop_jkt
        && dpop != Some(bound.as_str())
    {
        return Err(OAuthError::new(
            crate::ErrorCode::InvalidDpopProof,
            "the authorization code is bound to another DPoP key (dpop_jkt)",
        ));
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
            method: Some(code.method),
            grant_id: Some(code.grant_id),
            jkt: dpop.map(str::to_string),
        },
        scopes: scopes.clone(),
        resources: code.resources,
        nonce: code.nonce,
    };
    provider.issue_user_tokens(client, grant, &scopes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{REDIRECT_URI, World, ok, refused};

    fn request(code: &str, code_verifier: Option<&str>) -> Request {
        Request {
            code: code.into(),
            redirect_uri: Some(REDIRECT_URI.into()),
            code_verifier: code_verifier.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_code_works_once_and_its_replay_revokes_what_it_issued() {
        let w = World::new().await;
        let app = w.web_app(&["profile", "email"]).await;
        let code = w.code(&app, &w.member, "profile", None).await;
        let first = ok(exchange(&w.provider, &app, request(&code, None), None).await);
        assert_eq!(first.scope, "profile");
        let replay = refused(exchange(&w.provider, &app, request(&code, None), None).await);
        assert!(replay.contains("already used"), "{replay}");
        // The refresh token issued with the first exchange belongs to the revoked family.
        let refresh = crate::grant::refresh_token::Request {
            refresh_token: first.refresh_token.unwrap_or_default(),
            scope: None,
            resources: Vec::new(),
        };
        let after =
            refused(crate::grant::refresh_token::exchange(&w.provider, &app, refresh, None).await);
        assert!(after.contains("revoked"), "{after}");
    }

    /// A code whose authorization request named `dpop_jkt`: made as the approval step makes
    /// one, then stored again under a fresh value with the binding.
    async fn bound_code(w: &World, app: &Client, jkt: &str) -> String {
        let code = w.code(app, &w.member, "profile", None).await;
        let SingleUse::Fresh(mut record) = ok(w.store.consume_code(&secret::hash(&code), 0).await)
        else {
            panic!("the code just made is not fresh")
        };
        let fresh = ok(secret::generate(secret::Kind::AuthorizationCode));
        record.code_hash = secret::hash(&fresh);
        record.dpop_jkt = Some(jkt.into());
        ok(w.store.insert_code(&record).await);
        fresh
    }

    #[tokio::test]
    async fn a_code_bound_by_dpop_jkt_needs_a_proof_by_that_key() {
        let w = World::new().await;
        let app = w.web_app(&["profile"]).await;
        for proof in [None, Some("key-b")] {
            let code = bound_code(&w, &app, "key-a").await;
            let e = exchange(&w.provider, &app, request(&code, None), proof).await;
            assert_eq!(
                e.map_err(|e| e.code).err(),
                Some(crate::ErrorCode::InvalidDpopProof)
            );
        }
        let code = bound_code(&w, &app, "key-a").await;
        let tokens = ok(exchange(&w.provider, &app, request(&code, None), Some("key-a")).await);
        assert_eq!(tokens.token_type, "DPoP");
    }

    #[tokio::test]
    async fn pkce_needs_the_verifier_that_matches_the_challenge() {
        let w = World::new().await;
        let app = w.web_app(&["profile"]).await;
        const WRONG: &str = "a-verifier-of-the-right-shape-but-not-the-one-sent";
        let verifier = ok(crate::pkce::new_verifier());
        let challenge = crate::pkce::challenge(&verifier);
        let cases: [(Option<&str>, Option<&str>, Option<&str>); 4] = [
            (Some(&challenge), Some(&verifier), None),
            (Some(&challenge), Some(WRONG), Some("does not match")),
            (Some(&challenge), None, Some("code_verifier is required")),
            (None, Some(&verifier), Some("had no code_challenge")),
        ];
        for (challenge, verifier, refusal) in cases {
            let code = w.code(&app, &w.member, "profile", challenge).await;
            let result = exchange(&w.provider, &app, request(&code, verifier), None).await;
            match refusal {
                None => assert!(result.is_ok(), "{challenge:?} {verifier:?}: {result:?}"),
                Some(why) => {
                    let said = refused(result);
                    assert!(said.contains(why), "{challenge:?} {verifier:?}: {said}");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_code_is_refused_expired_elsewhere_or_for_another_redirect() {
        let w = World::new().await;
        let app = w.web_app(&["profile"]).await;
        let other = w.web_app(&["profile"]).await;

        let code = w.code(&app, &w.member, "profile", None).await;
        let said = refused(exchange(&w.provider, &other, request(&code, None), None).await);
        assert!(said.contains("another app"), "{said}");

        let code = w.code(&app, &w.member, "profile", None).await;
        let mut elsewhere = request(&code, None);
        elsewhere.redirect_uri = Some("https://app.test/other".into());
        let said = refused(exchange(&w.provider, &app, elsewhere, None).await);
        assert!(said.contains("redirect_uri differs"), "{said}");

        let code = w.code(&app, &w.member, "profile", None).await;
        w.clock.advance(crate::provider::CODE_TTL);
        let said = refused(exchange(&w.provider, &app, request(&code, None), None).await);
        assert!(said.contains("expired"), "{said}");

        let said = refused(exchange(&w.provider, &app, request("no-such-code", None), None).await);
        assert!(said.contains("invalid"), "{said}");
    }
}
