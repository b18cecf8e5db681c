//! A differential check of Grantor's hand-written JOSE code against an independent
//! implementation (`jsonwebtoken`): tokens Grantor signs verify there, tokens it signs verify
//! here, and whatever it refuses — `none`, a swapped algorithm, an unknown `kid`, a wrong
//! `typ`, any tampering — `grantor-resource` refuses too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantor_core::jose::{Alg, JwkSet, SigningKey};
use grantor_resource::{Config, Validator};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::LazyLock;

const ISSUER: &str = "https://grantor.example";
const AUDIENCE: &str = "https://api.example.com";

struct Keys {
    es256: SigningKey,
    es256_der: Vec<u8>,
    rs256: SigningKey,
    jwks: JwkSet,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let (es256, es256_der) = SigningKey::generate(Alg::ES256).unwrap();
    let (rs256, _) = SigningKey::generate(Alg::RS256).unwrap();
    let jwks = JwkSet {
        keys: vec![es256.jwk.clone(), rs256.jwk.clone()],
    };
    Keys {
        es256,
        es256_der,
        rs256,
        jwks,
    }
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Runtime::new().unwrap());

fn now() -> i64 {
    grantor_core::Clock::now(&grantor_core::SystemClock)
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "app_1", "client_id": "app_1",
        "scope": "trades:read", "org_id": "org_1", "jti": "at_1",
        "iat": now(), "exp": now() + 600,
    })
}

/// Whether `grantor-resource` accepts the token.
fn grantor_accepts(token: &str) -> bool {
    let validator = Validator::with_keys(Config::new(ISSUER, AUDIENCE), &KEYS.jwks);
    RUNTIME.block_on(validator.validate(token)).is_ok()
}

/// Whether `jsonwebtoken` accepts it, under the rules an access token must meet (RFC 9068):
/// a key of the set found by `kid`, its algorithm, issuer, audience, expiry and `typ`.
fn reference_accepts(token: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    if !matches!(header.typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return false;
    }
    let Some(jwk) = KEYS
        .jwks
        .keys
        .iter()
        .find(|k| Some(&k.kid) == header.kid.as_ref())
    else {
        return false;
    };
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(serde_json::to_value(jwk).unwrap())
        .expect("Grantor's JWK parses as a JWK");
    let Ok(key) = DecodingKey::from_jwk(&jwk) else {
        return false;
    };
    let alg = match jwk.common.key_algorithm {
        Some(jsonwebtoken::jwk::KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(jsonwebtoken::jwk::KeyAlgorithm::RS256) => Algorithm::RS256,
        _ => return false,
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    // The same clock-skew allowance as grantor-resource's default.
    validation.leeway = Config::new(ISSUER, AUDIENCE).leeway_seconds.unsigned_abs();
    jsonwebtoken::decode::<Value>(token, &key, &validation).is_ok()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token with this header and claims, keeping the signature of `signed`.
fn resigned_header(signed: &str, header: Value) -> String {
    let mut parts = signed.splitn(3, '.');
    let (_, payload, signature) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    format!("{}.{payload}.{signature}", b64(&header))
}

#[test]
fn tokens_grantor_signs_verify_with_the_reference() {
    for key in [&KEYS.es256, &KEYS.rs256] {
        let token = key.sign("at+jwt", &claims()).unwrap();
        assert!(reference_accepts(&token), "{:?}", key.alg);
        assert!(grantor_accepts(&token), "{:?}", key.alg);
    }
}

#[test]
fn tokens_the_reference_signs_verify_with_grantor() {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KEYS.es256.kid.clone());
    header.typ = Some("at+jwt".into());
    let key = EncodingKey::from_ec_der(&KEYS.es256_der);
    let token = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    assert!(reference_accepts(&token));
    assert!(grantor_accepts(&token));
}

#[test]
fn what_the_reference_refuses_grantor_refuses() {
    let es = KEYS.es256.sign("at+jwt", &claims()).unwrap();
    let kid = KEYS.es256.kid.clone();
    let hmac_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".into());
        let secret = serde_json::to_vec(&KEYS.es256.jwk).unwrap();
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret)).unwrap()
    };
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    let mut other_audience = claims();
    other_audience["aud"] = json!("https://elsewhere.example");
    let cases = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
                b64(&claims())
            ),
        ),
        (
            "alg swapped to RS256",
            resigned_header(&es, json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})),
        ),
        ("HS256 keyed with the public key", hmac_with_public_key),
        (
            "unknown kid",
            resigned_header(&es, json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"})),
        ),
        (
            "typ JWT",
            resigned_header(&es, json!({"alg": "ES256", "typ": "JWT", "kid": kid})),
        ),
        (
            "typ of an ID token",
            KEYS.es256.sign("JWT", &claims()).unwrap(),
        ),
        ("expired", KEYS.es256.sign("at+jwt", &expired).unwrap()),
        (
            "another audience",
            KEYS.es256.sign("at+jwt", &other_audience).unwrap(),
        ),
        ("tampered payload", {
            let mut parts: Vec<&str> = es.split('.').collect();
            let mut changed = claims();
            changed["scope"] = json!("trades:read trades:write");
            let payload = b64(&changed);
            parts[1] = &payload;
            parts.join(".")
        }),
        (
            "no signature",
            es.rsplit_once('.').unwrap().0.to_string() + ".",
        ),
    ];
    for (what, token) in cases {
        assert!(!reference_accepts(&token), "the reference accepts {what}");
        assert!(!grantor_accepts(&token), "grantor-resource accepts {what}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any one-byte change to a valid token: never accepted by grantor-resource when the
    /// reference refuses it.
    #[test]
    fn a_changed_byte_is_refused_as_the_reference_refuses_it(
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        rsa in any::<bool>(),
    ) {
        let key = if rsa { &KEYS.rs256 } else { &KEYS.es256 };
        let token = key.sign("at+jwt", &claims()).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        if !reference_accepts(&changed) {
            prop_assert!(!grantor_accepts(&changed), "accepted: {}", changed);
        }
    }

    /// Arbitrary strings never panic the validator and are never accepted.
    #[test]
    fn garbage_is_refused(token in ".{0,400}") {
        prop_assert!(!grantor_accepts(&token));
    }
}
