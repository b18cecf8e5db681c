//! What the token tests share: Grantor's signing keys (two published, two not), a validator
//! that trusts the published ones and never touches the network, and a way to sign any header
//! with any of those keys, so forged tokens are real signatures, not random bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_resource::{Caller, Config, TokenError, Validator};
use grantor_token::jose::{Alg, JwkSet, SigningKey};
use grantor_token::token::{AccessTokenClaims, Audience};
use grantor_token::{Clock, SystemClock};
use jsonwebtoken::{Algorithm, EncodingKey};
use std::sync::LazyLock;

pub const ISSUER: &str = "https://grantor.example";
pub const AUDIENCE: &str = "https://api.example";

pub struct Key {
    pub signing: SigningKey,
    /// The same private key for jsonwebtoken: PKCS#8 for EC, PKCS#1 for RSA (the only forms
    /// its aws-lc backend reads from DER).
    pub encoding: EncodingKey,
}

impl Key {
    fn generate(alg: Alg) -> Self {
        let (signing, der) = SigningKey::generate(alg).unwrap();
        let encoding = match alg {
            Alg::ES256 => EncodingKey::from_ec_der(&der),
            Alg::RS256 => EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(&der)),
        };
        Self { signing, encoding }
    }

    pub fn kid(&self) -> &str {
        &self.signing.kid
    }

    /// The algorithm the key itself signs with, whatever a header claims.
    pub fn jwt_alg(&self) -> Algorithm {
        match self.signing.alg {
            Alg::ES256 => Algorithm::ES256,
            Alg::RS256 => Algorithm::RS256,
        }
    }
}

pub struct Keys {
    pub es: Key,
    pub rs: Key,
    /// Keys Grantor never published: what an attacker signs with.
    pub stranger_es: Key,
    pub stranger_rs: Key,
    /// What Grantor's JWKS endpoint would serve: `es` and `rs`.
    pub jwks: JwkSet,
    pub validator: Validator,
}

/// RSA keys take a moment to generate, so every test in a binary shares one set.
pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let es = Key::generate(Alg::ES256);
    let rs = Key::generate(Alg::RS256);
    let jwks = JwkSet {
        keys: vec![es.signing.jwk.clone(), rs.signing.jwk.clone()],
    };
    let validator = Validator::with_keys(Config::new(ISSUER, AUDIENCE), &jwks);
    Keys {
        stranger_es: Key::generate(Alg::ES256),
        stranger_rs: Key::generate(Alg::RS256),
        es,
        rs,
        jwks,
        validator,
    }
});

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (RFC 5208 5): SEQUENCE { version,
/// algorithm, OCTET STRING { RSAPrivateKey } }.
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    // One DER element: (tag, contents, what follows).
    fn element(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let (len, header) = match b[1] {
            short @ 0..0x80 => (usize::from(short), 2),
            long => {
                let n = usize::from(long & 0x7f);
                let len = b[2..2 + n]
                    .iter()
                    .fold(0, |acc, byte| acc << 8 | usize::from(*byte));
                (len, 2 + n)
            }
        };
        (b[0], &b[header..header + len], &b[header + len..])
    }
    let (_, info, _) = element(der);
    let (_, _, rest) = element(info); // version
    let (_, _, rest) = element(rest); // algorithm identifier
    let (tag, key, _) = element(rest);
    assert_eq!(tag, 0x04, "PKCS#8 private key is an OCTET STRING");
    key.to_vec()
}

pub fn now() -> i64 {
    SystemClock.now()
}

/// Claims of a token that is valid now for [`AUDIENCE`].
pub fn claims(sub: &str, scope: &str) -> AccessTokenClaims {
    let now = now();
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: sub.into(),
        aud: Audience::One(AUDIENCE.into()),
        exp: now + 300,
        iat: now,
        nbf: Some(now),
        jti: "jti-1".into(),
        client_id: "app_1".into(),
        scope: scope.into(),
        org_id: "org_1".into(),
        auth_time: None,
        grant_id: None,
        cnf: None,
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS with exactly this header, signed by `key` with the key's own algorithm
/// (`sign: None` leaves the signature empty, as `alg: none` tokens do). The header may lie.
pub fn forge(header: &serde_json::Value, payload: &[u8], sign: Option<&Key>) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let sig = match sign {
        Some(key) => {
            jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.jwt_alg()).unwrap()
        }
        None => String::new(),
    };
    format!("{message}.{sig}")
}

/// The HS256 "key confusion" forgery: an HMAC keyed with the public key as published.
pub fn forge_hmac(header: &serde_json::Value, payload: &[u8], public: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(public),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{sig}")
}

/// Validates with the shared validator. Pinned keys mean no network, so the future is ready
/// at once; a small runtime still drives it, as the API is async.
pub fn validate(token: &str) -> Result<Caller, TokenError> {
    validate_with(&KEYS.validator, token)
}

pub fn validate_with(validator: &Validator, token: &str) -> Result<Caller, TokenError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(validator.validate(token))
}
