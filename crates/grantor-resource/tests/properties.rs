//! Property tests for what a resource server does with a bearer token it did not make: any
//! text is answered without a panic, and no change to a valid token, nor any header an
//! attacker chooses, gets a forged token accepted.

// Fixture helpers outside `#[test]` functions fail loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod common;

use common::{KEYS, Key, b64, claims, forge, forge_hmac, validate, validate_with};
use grantor_resource::{Config, TokenError, Validator};
use grantor_token::jose::{Alg, JwkSet};
use proptest::prelude::*;
use serde_json::json;

/// Characters a token is made of, plus the ones that break its framing.
fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
        ).prop_map(char::from),
        1 => prop::sample::select(b".=+/ %\0".to_vec()).prop_map(char::from),
        1 => any::<char>(),
    ]
}

fn refused(result: Result<grantor_resource::Caller, TokenError>) -> bool {
    // Pinned keys: a refusal is always `Invalid`, never "cannot verify now".
    matches!(result, Err(TokenError::Invalid(_)))
}

fn valid_token(es: bool, sub: &str, scope: &str) -> String {
    let key = if es { &KEYS.es } else { &KEYS.rs };
    key.signing.sign("at+jwt", &claims(sub, scope)).unwrap()
}

proptest! {
    /// Arbitrary text is refused, never accepted, never a panic.
    #[test]
    fn arbitrary_text_is_refused(s in any::<String>()) {
        prop_assert!(refused(validate(&s)));
    }

    /// Three segments of arbitrary base64url, and headers naming real keys and algorithms
    /// over arbitrary payloads and signatures: the parser is reached at every stage.
    #[test]
    fn well_framed_garbage_is_refused(
        alg in prop::sample::select(vec!["ES256", "RS256", "none", "HS256", ""]),
        known_kid in any::<bool>(),
        typ in prop::sample::select(vec!["at+jwt", "JWT", ""]),
        raw_header in prop::collection::vec(any::<u8>(), 0..64),
        use_raw_header in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..128),
        sig in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let kid = if known_kid { KEYS.es.kid().to_string() } else { "k".into() };
        let header = if use_raw_header {
            raw_header
        } else {
            json!({"alg": alg, "kid": kid, "typ": typ}).to_string().into_bytes()
        };
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&sig));
        prop_assert!(refused(validate(&token)));
    }

    /// Changing, removing or inserting any one character of a valid token, whichever key
    /// signed it, gets it refused: the signature covers every byte that matters, and the
    /// base64 decoder does not ignore bits a change could hide in.
    #[test]
    fn any_one_character_changed_is_refused(
        es in any::<bool>(),
        sub in "[a-z_0-9]{1,12}",
        at in any::<prop::sample::Index>(),
        c in token_char(),
    ) {
        let token = valid_token(es, &sub, "read");
        prop_assert!(validate(&token).is_ok());
        let i = at.index(token.len());
        let mut chars: Vec<char> = token.chars().collect();
        if chars[i] != c {
            chars[i] = c;
            let changed: String = chars.iter().collect();
            prop_assert!(refused(validate(&changed)), "accepted with {c:?} at {i}");
        }
        let mut removed = token.clone();
        removed.remove(i);
        prop_assert!(refused(validate(&removed)), "accepted without the character at {i}");
        let mut inserted = token.clone();
        inserted.insert(i, c);
        prop_assert!(refused(validate(&inserted)), "accepted with {c:?} inserted at {i}");
    }

    /// Flipping any bit of the signed bytes (header, payload or signature) is refused.
    #[test]
    fn any_flipped_bit_in_the_decoded_parts_is_refused(
        es in any::<bool>(),
        part in 0usize..3,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = valid_token(es, "usr_1", "read");
        let mut parts: Vec<Vec<u8>> = token
            .split('.')
            .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
            .collect();
        let i = at.index(parts[part].len());
        parts[part][i] ^= 1 << bit;
        let changed = parts.iter().map(|p| b64(p)).collect::<Vec<_>>().join(".");
        prop_assert!(refused(validate(&changed)));
    }

    /// `alg: none`, with the signature dropped or kept, is refused for every key and typ.
    #[test]
    fn alg_none_is_refused(
        none in prop::sample::select(vec!["none", "None", "NONE", "nOnE"]),
        es in any::<bool>(),
        keep_signature in any::<bool>(),
        typ in prop::sample::select(vec!["at+jwt", "application/at+jwt", "JWT"]),
    ) {
        let valid = valid_token(es, "usr_1", "read");
        let kid = if es { KEYS.es.kid() } else { KEYS.rs.kid() };
        let payload = serde_json::to_vec(&claims("usr_admin", "admin")).unwrap();
        let mut token = forge(&json!({"alg": none, "kid": kid, "typ": typ}), &payload, None);
        if keep_signature {
            token.push_str(valid.rsplit('.').next().unwrap());
        }
        prop_assert!(refused(validate(&token)));
    }

    /// A header whose algorithm is not the one its key is for is refused, even when the
    /// signature is genuine for the algorithm the header claims: an RS256 header naming the
    /// EC key, an HS256 token keyed with the published public key (key confusion), and
    /// algorithms Grantor does not use.
    #[test]
    fn wrong_algorithms_are_refused(
        named_es in any::<bool>(),
        signer_es in any::<bool>(),
        alg in prop::sample::select(vec!["ES256", "RS256", "HS256", "ES384", "PS256", "RS512", "EdDSA", "es256"]),
        sub in "[a-z]{1,8}",
    ) {
        let named = if named_es { &KEYS.es } else { &KEYS.rs };
        let signer: &Key = if signer_es { &KEYS.es } else { &KEYS.rs };
        let payload = serde_json::to_vec(&claims(&sub, "read")).unwrap();
        let header = json!({"alg": alg, "kid": named.kid(), "typ": "at+jwt"});
        let right = alg == named.signing.alg.as_str() && named_es == signer_es;
        let token = if alg == "HS256" {
            let public = serde_json::to_vec(&named.signing.jwk).unwrap();
            forge_hmac(&header, &payload, &public)
        } else {
            forge(&header, &payload, Some(signer))
        };
        // The one combination that is not a forgery is the control: it must pass.
        prop_assert_eq!(validate(&token).is_ok(), right);
    }

    /// A key Grantor never published is refused, whether the token names that key, names
    /// a published key, or names none.
    #[test]
    fn unknown_and_missing_kids_are_refused(
        stranger_es in any::<bool>(),
        kid in prop_oneof![
            Just(None),
            Just(Some("own".to_string())),
            Just(Some("published".to_string())),
            "[A-Za-z0-9_-]{0,43}".prop_map(Some),
        ],
    ) {
        let stranger = if stranger_es { &KEYS.stranger_es } else { &KEYS.stranger_rs };
        let published = if stranger_es { &KEYS.es } else { &KEYS.rs };
        let kid = match kid.as_deref() {
            Some("own") => Some(stranger.kid().to_string()),
            Some("published") => Some(published.kid().to_string()),
            other => other.map(str::to_string),
        };
        let payload = serde_json::to_vec(&claims("usr_1", "read")).unwrap();
        let alg = stranger.signing.alg.as_str();
        let header = match &kid {
            Some(kid) => json!({"alg": alg, "kid": kid, "typ": "at+jwt"}),
            None => json!({"alg": alg, "typ": "at+jwt"}),
        };
        prop_assert!(refused(validate(&forge(&header, &payload, Some(stranger)))));
        // A published key's genuine token without its kid is refused too: the key is never
        // guessed.
        let genuine = json!({"alg": published.signing.alg.as_str(), "typ": "at+jwt"});
        prop_assert!(refused(validate(&forge(&genuine, &payload, Some(published)))));
    }

    /// Only access tokens (RFC 9068 `typ`) are accepted: an ID token or any other JWT
    /// Grantor signed with the same key is refused here.
    #[test]
    fn only_the_access_token_typ_is_accepted(
        es in any::<bool>(),
        typ in prop_oneof![
            prop::sample::select(vec![
                "at+jwt", "application/at+jwt", "JWT", "jwt", "AT+JWT", "at+JWT",
                "application/jwt", "logout+jwt", "", "at+jwt ",
            ]).prop_map(str::to_string),
            "[ -~]{0,20}",
        ],
    ) {
        let key = if es { &KEYS.es } else { &KEYS.rs };
        let token = key.signing.sign(&typ, &claims("usr_1", "read")).unwrap();
        let accepted = validate(&token).is_ok();
        prop_assert_eq!(accepted, typ == "at+jwt" || typ == "application/at+jwt");
        let untyped = forge(
            &json!({"alg": key.signing.alg.as_str(), "kid": key.kid()}),
            &serde_json::to_vec(&claims("usr_1", "read")).unwrap(),
            Some(key),
        );
        prop_assert!(refused(validate(&untyped)));
    }

    /// A JWKS full of junk (as a compromised or broken endpoint might serve) builds a
    /// validator without panicking, and that validator refuses a genuine token whose key is
    /// not among the parsable ones.
    #[test]
    fn arbitrary_jwks_members_never_panic(
        kty in prop::sample::select(vec!["EC", "RSA", "oct", ""]),
        alg in prop::sample::select(vec!["ES256", "RS256", "none", ""]),
        fields in prop::collection::vec(proptest::option::of("[A-Za-z0-9_-]{0,90}"), 4),
    ) {
        let jwk = grantor_token::jose::Jwk {
            kty: kty.into(),
            kid: KEYS.es.kid().into(),
            alg: alg.into(),
            use_: "sig".into(),
            crv: Some("P-256".into()),
            x: fields[0].clone(),
            y: fields[1].clone(),
            n: fields[2].clone(),
            e: fields[3].clone(),
        };
        let validator = Validator::with_keys(
            Config::new(common::ISSUER, common::AUDIENCE),
            &JwkSet { keys: vec![jwk] },
        );
        prop_assert!(refused(validate_with(&validator, &valid_token(true, "usr_1", "read"))));
    }
}

/// The allow-list in the configuration is honoured: a validator for ES256 only refuses a
/// genuine RS256 token from a published key.
#[test]
fn algorithms_outside_the_configured_list_are_refused() {
    let mut config = Config::new(common::ISSUER, common::AUDIENCE);
    config.algorithms = vec![Alg::ES256];
    let validator = Validator::with_keys(config, &KEYS.jwks);
    assert!(validate_with(&validator, &valid_token(true, "usr_1", "read")).is_ok());
    assert!(refused(validate_with(
        &validator,
        &valid_token(false, "usr_1", "read")
    )));
}
