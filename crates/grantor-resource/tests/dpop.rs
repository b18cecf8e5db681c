//! DPoP at the resource server (RFC 9449 7): a bound token only with a proof by its key, for
//! this request and this token, once. Proofs are made with `jsonwebtoken`, independently of
//! the verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod common;

use common::{AUDIENCE, ISSUER, KEYS, claims, now};
use grantor_resource::{Config, TokenError, Validator};
use grantor_token::dpop::access_token_hash;
use grantor_token::jose::{Alg, SigningKey};
use grantor_token::token::Confirmation;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const API: &str = "https://api.example";

struct Holder {
    key: EncodingKey,
    jwk: Jwk,
}

impl Holder {
    fn new() -> Self {
        let (_, der) = SigningKey::generate(Alg::ES256).unwrap();
        let key = EncodingKey::from_ec_der(&der);
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        Self { key, jwk }
    }

    fn jkt(&self) -> String {
        self.jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    fn proof(&self, jti: &str, htm: &str, htu: &str, token: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let claims = json!({
            "jti": jti, "htm": htm, "htu": htu, "iat": now(), "ath": access_token_hash(token),
        });
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

/// A token bound to `jkt`, signed by Grantor's published ES256 key.
fn bound_token(jkt: &str) -> String {
    let mut c = claims("app_1", "trades:read");
    c.cnf = Some(Confirmation { jkt: jkt.into() });
    KEYS.es.signing.sign("at+jwt", &c).unwrap()
}

fn validator(public_url: Option<&str>) -> Validator {
    let mut config = Config::new(ISSUER, AUDIENCE);
    if let Some(url) = public_url {
        config = config.with_public_url(url);
    }
    Validator::with_keys(config, &KEYS.jwks)
}

fn is_proof_refusal(result: Result<grantor_resource::Caller, TokenError>) -> bool {
    matches!(result, Err(TokenError::InvalidDpopProof(_)))
}

#[tokio::test]
async fn a_bound_token_needs_a_fresh_proof_by_its_key_for_this_request() {
    let holder = Holder::new();
    let thief = Holder::new();
    let token = bound_token(&holder.jkt());
    let v = validator(Some(API));
    let url = format!("{API}/orders");

    let proof = holder.proof("1", "GET", &url, &token);
    let caller = v
        .validate_dpop(&token, Some(&proof), "GET", "/orders")
        .await
        .unwrap();
    assert_eq!(caller.jkt, Some(holder.jkt()));
    // Once only.
    assert!(is_proof_refusal(
        v.validate_dpop(&token, Some(&proof), "GET", "/orders")
            .await
    ));
    let refused = [
        (None, "GET", "/orders"),
        (
            Some(thief.proof("2", "GET", &url, &token)),
            "GET",
            "/orders",
        ),
        (
            Some(holder.proof("3", "POST", &url, &token)),
            "GET",
            "/orders",
        ),
        (
            Some(holder.proof("4", "GET", &url, &token)),
            "GET",
            "/orders/7",
        ),
        (
            Some(holder.proof("5", "GET", &url, "another token")),
            "GET",
            "/orders",
        ),
    ];
    for (proof, method, path) in refused {
        let result = v
            .validate_dpop(&token, proof.as_deref(), method, path)
            .await;
        assert!(is_proof_refusal(result), "{proof:?} {method} {path}");
    }
    // As a bearer token it is refused outright.
    assert_eq!(v.validate(&token).await, Err(TokenError::BoundToKey));
    // Without a public URL the API cannot check htu, so it takes no bound token at all.
    let proof = holder.proof("6", "GET", &url, &token);
    assert!(is_proof_refusal(
        validator(None)
            .validate_dpop(&token, Some(&proof), "GET", "/orders")
            .await
    ));
}

#[tokio::test]
async fn an_unbound_token_is_a_bearer_token_only() {
    let holder = Holder::new();
    let token = KEYS
        .es
        .signing
        .sign("at+jwt", &claims("app_1", "trades:read"))
        .unwrap();
    let v = validator(Some(API));
    assert!(v.validate(&token).await.is_ok());
    let proof = holder.proof("1", "GET", &format!("{API}/orders"), &token);
    assert!(matches!(
        v.validate_dpop(&token, Some(&proof), "GET", "/orders")
            .await,
        Err(TokenError::Invalid(_))
    ));
}
