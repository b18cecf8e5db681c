//! Grantor's hand-written JOSE code checked against an independent implementation,
//! `jsonwebtoken`: tokens Grantor signs verify there, tokens it signs verify here, and over a
//! corpus of forged and tampered tokens the two give the same verdict.
//!
//! `jsonwebtoken` leaves the `typ` header to the application, so the reference verifier below
//! adds RFC 9068 2.1's rule itself; everything else (framing, base64, header parsing, the
//! algorithm allow-list, key/algorithm agreement, signatures, `iss`/`aud`/`exp`/`nbf`) is
//! jsonwebtoken's own.

// Fixture helpers outside `#[test]` functions fail loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod common;

use common::{AUDIENCE, ISSUER, KEYS, Key, claims, forge, forge_hmac, now, validate};
use grantor_token::token::{AccessTokenClaims, Audience};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use proptest::prelude::*;
use serde_json::json;
use std::sync::LazyLock;

/// Grantor's JWKS as a relying party reads it: through JSON, into jsonwebtoken's own types.
static JWKS: LazyLock<JwkSet> =
    LazyLock::new(|| serde_json::from_value(serde_json::to_value(&KEYS.jwks).unwrap()).unwrap());

/// How a careful relying party verifies a Grantor access token with jsonwebtoken: the key is
/// found by `kid` in the JWKS, the algorithm comes from an allow-list of ES256 and RS256
/// narrowed to the key's type (never from the token),
/// and issuer, audience, expiry and not-before are checked with the same 30 s leeway as
/// `grantor_resource::Config::new`.
fn reference_verify(token: &str) -> Result<AccessTokenClaims, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    // RFC 9068 2.1, which jsonwebtoken does not check.
    if !matches!(header.typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Err(format!("typ {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = JWKS.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    // The allow-list, narrowed to the key's family: jsonwebtoken wants every listed
    // algorithm to fit the key.
    let alg = match key.family() {
        AlgorithmFamily::Ec => Algorithm::ES256,
        AlgorithmFamily::Rsa => Algorithm::RS256,
        other => return Err(format!("key family {other:?}")),
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 30;
    validation.validate_nbf = true;
    jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn key(es: bool) -> &'static Key {
    if es { &KEYS.es } else { &KEYS.rs }
}

fn any_claims() -> impl Strategy<Value = AccessTokenClaims> {
    (
        any::<String>(),
        "[ -~]{0,40}",
        any::<String>(),
        proptest::option::of(any::<String>()),
    )
        .prop_map(|(sub, scope, client_id, grant_id)| {
            let mut c = claims(&sub, &scope);
            c.client_id = client_id;
            c.grant_id = grant_id;
            c
        })
}

proptest! {
    /// Every access token Grantor signs, whatever its claims hold, verifies with
    /// jsonwebtoken against the published JWKS and carries the same claims.
    #[test]
    fn tokens_grantor_signs_verify_with_jsonwebtoken(es in any::<bool>(), c in any_claims()) {
        let token = key(es).signing.sign("at+jwt", &c).unwrap();
        let verified = reference_verify(&token);
        prop_assert_eq!(verified.as_ref(), Ok(&c));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        prop_assert_eq!(header.kid.as_deref(), Some(key(es).kid()));
        prop_assert_eq!(header.alg, key(es).jwt_alg());
    }

    /// Every access token jsonwebtoken signs with a published key verifies here, and the
    /// caller the resource server sees is the one the claims name.
    #[test]
    fn tokens_jsonwebtoken_signs_verify_in_grantor_resource(
        es in any::<bool>(),
        c in any_claims(),
        media_type in any::<bool>(),
    ) {
        let key = key(es);
        let mut header = Header::new(key.jwt_alg());
        header.kid = Some(key.kid().to_string());
        header.typ = Some(if media_type { "application/at+jwt" } else { "at+jwt" }.into());
        let token = jsonwebtoken::encode(&header, &c, &key.encoding).unwrap();
        let caller = validate(&token).unwrap();
        prop_assert_eq!(&caller.subject, &c.sub);
        prop_assert_eq!(&caller.client_id, &c.client_id);
        prop_assert_eq!(&caller.org_id, &c.org_id);
        prop_assert_eq!(caller.expires_at, c.exp);
        let scopes: Vec<&str> = c.scope.split(' ').filter(|s| !s.is_empty()).collect();
        prop_assert_eq!(caller.scopes, scopes);
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: each case is mostly right, with a few things wrong, so that both verdicts occur
// often and each refusal has a single cause more often than not.

#[derive(Debug, Clone, Copy)]
enum Signer {
    Es,
    Rs,
    StrangerEs,
    StrangerRs,
    /// `alg: none`: no signature.
    Nobody,
    /// HS256 keyed with the named key's public JWK.
    Hmac,
}

#[derive(Debug, Clone)]
enum Kid {
    /// The signing key's own kid (the published key's for `Nobody` and `Hmac`).
    Own,
    /// The other published key's kid.
    Other,
    Missing,
    Made(String),
}

#[derive(Debug, Clone)]
enum Tamper {
    Nothing,
    /// Replace the character at this position.
    Replace(prop::sample::Index, char),
    Remove(prop::sample::Index),
    /// Swap in the payload of a different genuine token.
    SwapPayload,
    EmptySignature,
    ExtraSegment,
}

#[derive(Debug, Clone)]
struct Case {
    es: bool,
    signer: Signer,
    /// `None`: the header names the signer's own algorithm.
    alg: Option<&'static str>,
    kid: Kid,
    typ: Option<&'static str>,
    iss: &'static str,
    aud: Audience,
    exp: i64,
    nbf: Option<i64>,
    tamper: Tamper,
}

fn case() -> impl Strategy<Value = Case> {
    let signer = prop_oneof![
        6 => Just(Signer::Es), // resolved against `es` below
        1 => Just(Signer::StrangerEs),
        1 => Just(Signer::StrangerRs),
        1 => Just(Signer::Nobody),
        1 => Just(Signer::Hmac),
    ];
    let alg = prop_oneof![
        6 => Just(None),
        1 => prop::sample::select(vec!["ES256", "RS256", "HS256", "none", "ES384", "PS256", "es256"])
            .prop_map(Some),
    ];
    let kid = prop_oneof![
        6 => Just(Kid::Own),
        1 => Just(Kid::Other),
        1 => Just(Kid::Missing),
        1 => "[A-Za-z0-9_-]{0,44}".prop_map(Kid::Made),
    ];
    let typ = prop_oneof![
        6 => Just(Some("at+jwt")),
        1 => prop::sample::select(vec!["application/at+jwt", "JWT", "AT+JWT", "", "at+jwt "]).prop_map(Some),
        1 => Just(None),
    ];
    let iss = prop_oneof![
        6 => Just(ISSUER),
        1 => prop::sample::select(vec!["https://grantor.example/", "https://evil.example", ""]),
    ];
    let aud = prop_oneof![
        6 => Just(Audience::One(AUDIENCE.into())),
        1 => Just(Audience::Many(vec!["https://other.example".into(), AUDIENCE.into()])),
        1 => Just(Audience::One("https://other.example".into())),
        1 => Just(Audience::Many(vec![])),
    ];
    // Far from the leeway's edges: the two implementations count the boundary second
    // differently, which is not what this test is about.
    let exp = prop_oneof![6 => Just(300i64), 1 => Just(-300i64), 1 => Just(-3600i64)];
    let nbf = prop_oneof![
        6 => Just(Some(0i64)),
        1 => Just(None),
        1 => Just(Some(300i64)),
    ];
    let tamper = prop_oneof![
        6 => Just(Tamper::Nothing),
        2 => (any::<prop::sample::Index>(), prop::char::range('-', 'z'))
            .prop_map(|(i, c)| Tamper::Replace(i, c)),
        1 => any::<prop::sample::Index>().prop_map(Tamper::Remove),
        1 => Just(Tamper::SwapPayload),
        1 => Just(Tamper::EmptySignature),
        1 => Just(Tamper::ExtraSegment),
    ];
    (
        any::<bool>(),
        signer,
        alg,
        kid,
        typ,
        iss,
        aud,
        exp,
        nbf,
        tamper,
    )
        .prop_map(
            |(es, signer, alg, kid, typ, iss, aud, exp, nbf, tamper)| Case {
                es,
                signer: match (signer, es) {
                    (Signer::Es, false) => Signer::Rs,
                    (s, _) => s,
                },
                alg,
                kid,
                typ,
                iss,
                aud,
                exp,
                nbf,
                tamper,
            },
        )
}

fn build(case: &Case) -> String {
    let published = key(case.es);
    let signer = match case.signer {
        Signer::Es => Some(&KEYS.es),
        Signer::Rs => Some(&KEYS.rs),
        Signer::StrangerEs => Some(&KEYS.stranger_es),
        Signer::StrangerRs => Some(&KEYS.stranger_rs),
        Signer::Nobody | Signer::Hmac => None,
    };
    let own = signer.unwrap_or(published);
    let alg = case.alg.unwrap_or(match case.signer {
        Signer::Nobody => "none",
        Signer::Hmac => "HS256",
        _ => own.signing.alg.as_str(),
    });
    let mut header = json!({"alg": alg});
    let kid = match &case.kid {
        Kid::Own => Some(own.kid().to_string()),
        Kid::Other => Some(key(!case.es).kid().to_string()),
        Kid::Missing => None,
        Kid::Made(k) => Some(k.clone()),
    };
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    if let Some(typ) = case.typ {
        header["typ"] = json!(typ);
    }
    let now = now();
    let mut c = claims("usr_1", "read write");
    c.iss = case.iss.into();
    c.aud = case.aud.clone();
    c.exp = now + case.exp;
    c.nbf = case.nbf.map(|n| now + n);
    let payload = serde_json::to_vec(&c).unwrap();
    let token = match case.signer {
        Signer::Hmac => forge_hmac(
            &header,
            &payload,
            &serde_json::to_vec(&published.signing.jwk).unwrap(),
        ),
        _ => forge(&header, &payload, signer),
    };
    tamper(&token, &case.tamper)
}

fn tamper(token: &str, how: &Tamper) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    match how {
        Tamper::Nothing => token.to_string(),
        Tamper::Replace(at, c) => {
            let i = at.index(chars.len());
            chars[i] = *c;
            chars.into_iter().collect()
        }
        Tamper::Remove(at) => {
            chars.remove(at.index(chars.len()));
            chars.into_iter().collect()
        }
        Tamper::SwapPayload => {
            let other = KEYS
                .es
                .signing
                .sign("at+jwt", &claims("usr_admin", "admin"))
                .unwrap();
            let mut parts: Vec<&str> = token.split('.').collect();
            parts[1] = other.split('.').nth(1).unwrap();
            parts.join(".")
        }
        Tamper::EmptySignature => {
            let (signed, _) = token.rsplit_once('.').unwrap();
            format!("{signed}.")
        }
        Tamper::ExtraSegment => format!("{token}.e30"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Over forged and tampered tokens, grantor-resource accepts exactly what jsonwebtoken
    /// (plus the typ rule) accepts: no forgery that the reference refuses gets in, and no
    /// token the reference accepts is turned away.
    #[test]
    fn verdicts_agree_with_jsonwebtoken(case in case()) {
        let token = build(&case);
        let reference = reference_verify(&token);
        let grantor = validate(&token);
        prop_assert_eq!(
            grantor.is_ok(),
            reference.is_ok(),
            "grantor-resource: {:?}\njsonwebtoken: {:?}\ntoken: {}",
            grantor,
            reference,
            token
        );
    }
}

/// The corpus is not all refusals: an untampered, correctly signed case is accepted by both
/// (a differential test where both always refuse would prove nothing).
#[test]
fn the_corpus_control_case_is_accepted_by_both() {
    for es in [true, false] {
        let case = Case {
            es,
            signer: if es { Signer::Es } else { Signer::Rs },
            alg: None,
            kid: Kid::Own,
            typ: Some("at+jwt"),
            iss: ISSUER,
            aud: Audience::One(AUDIENCE.into()),
            exp: 300,
            nbf: Some(0),
            tamper: Tamper::Nothing,
        };
        let token = build(&case);
        assert!(reference_verify(&token).is_ok());
        assert!(validate(&token).is_ok());
    }
}

/// A token jsonwebtoken signs with a key that is not published, or with HS256 keyed by a
/// published public key, is refused by both, even when it names a published kid.
#[test]
fn a_key_outside_the_jwks_is_refused_by_both() {
    let stranger = &KEYS.stranger_es;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KEYS.es.kid().into());
    header.typ = Some("at+jwt".into());
    let token =
        jsonwebtoken::encode(&header, &claims("usr_1", "read"), &stranger.encoding).unwrap();
    assert!(reference_verify(&token).is_err());
    assert!(validate(&token).is_err());
    // And the HS256 encoder keyed with a published public key (key confusion) too.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KEYS.es.kid().into());
    header.typ = Some("at+jwt".into());
    let public = serde_json::to_vec(&KEYS.es.signing.jwk).unwrap();
    let token = jsonwebtoken::encode(
        &header,
        &claims("usr_1", "read"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert!(reference_verify(&token).is_err());
    assert!(validate(&token).is_err());
}
