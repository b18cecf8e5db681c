//! DPoP proofs (RFC 9449): a client proves, request by request, that it holds the private
//! key a token is bound to. The checks that need no state live here, so that Grantor (at its
//! token and userinfo endpoints) and a resource server (`grantor-resource`) check proofs
//! alike; whether a proof's `jti` was seen before, and which nonce is current, are the
//! caller's to ask, as only it keeps state.

use crate::jose::{self, Alg, Header, JoseError, VerifyingKey};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::fmt;

/// The JWT `typ` of a proof (RFC 9449 4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The algorithms accepted for proofs, as `dpop_signing_alg_values_supported` says.
pub const ALGORITHMS: [Alg; 2] = [Alg::ES256, Alg::RS256];
/// A proof is refused unread past this size: an RSA key of 8192 bits and its signature fit.
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// A `jti` longer than this is refused: it is stored for replay checks.
pub const MAX_JTI_LEN: usize = 128;
/// How far a proof's `iat` may lie from now, either way, seconds (RFC 9449 11.1): proofs are
/// made just before each request, so a minute allows for clock skew and nothing more.
pub const IAT_WINDOW: i64 = 60;
/// The longest nonce read from a proof.
pub const MAX_NONCE_LEN: usize = 256;

/// JWK members that hold a private key: a proof carrying one is refused (RFC 9449 4.3).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What the request a proof came with looks like.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method, upper case.
    pub htm: &'a str,
    /// The request's absolute URL; its query and fragment are ignored.
    pub htu: &'a str,
    /// The access token sent with the request, whose hash the proof must carry in `ath`.
    pub access_token: Option<&'a str>,
    pub now: i64,
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key: what `cnf.jkt` names.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    /// The server nonce the proof carries, for the caller to check.
    pub nonce: Option<String>,
}

impl Proof {
    /// Until when the proof's `jti` must be remembered: afterwards its `iat` is refused anyway.
    pub fn replay_expires_at(&self) -> i64 {
        self.iat + IAT_WINDOW + 1
    }
}

/// Why a proof was refused; every case is `invalid_dpop_proof` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    TooLarge,
    Malformed,
    WrongType,
    UnsupportedAlg,
    NoKey,
    PrivateKey,
    BadSignature,
    WrongMethod,
    WrongUrl,
    Stale,
    BadJti,
    MissingAth,
    WrongAth,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the DPoP proof is too large",
            Self::Malformed => "the DPoP proof is not a well-formed JWT",
            Self::WrongType => "the DPoP proof's typ must be dpop+jwt",
            Self::UnsupportedAlg => "the DPoP proof's algorithm is not accepted (ES256, RS256)",
            Self::NoKey => "the DPoP proof's header carries no usable public jwk",
            Self::PrivateKey => "the DPoP proof's jwk contains a private key",
            Self::BadSignature => "the DPoP proof's signature is invalid",
            Self::WrongMethod => "the DPoP proof's htm does not match the request's method",
            Self::WrongUrl => "the DPoP proof's htu does not match the request's URL",
            Self::Stale => "the DPoP proof's iat is too far from the current time",
            Self::BadJti => "the DPoP proof's jti is missing or too long",
            Self::MissingAth => "the DPoP proof has no ath for the access token",
            Self::WrongAth => "the DPoP proof's ath does not match the access token",
        })
    }
}

impl std::error::Error for ProofError {}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// `ath`: the base64url SHA-256 of an access token (RFC 9449 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// A URL without its query and fragment, scheme and host in lower case and a default port
/// left out (RFC 9449 4.3 with RFC 3986 6.2.2 and 6.2.3), or `None` when it is not absolute.
fn normalized_url(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    if url.cannot_be_a_base() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The header's `jwk` must carry no private members; checked on the raw JSON, as [`jose::Jwk`]
/// drops what it does not know.
fn has_private_members(proof: &str) -> Result<bool, ProofError> {
    let encoded = proof.split('.').next().ok_or(ProofError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| ProofError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)?;
    let jwk = header
        .get("jwk")
        .and_then(|j| j.as_object())
        .ok_or(ProofError::NoKey)?;
    Ok(PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)))
}

/// Checks a proof against the request it came with: its size, `typ`, algorithm, key (public,
/// in the header) and signature, `htm`, `htu`, `iat` within [`IAT_WINDOW`], a bounded `jti`,
/// and `ath` when an access token came with it (and only then).
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLarge);
    }
    if has_private_members(proof)? {
        return Err(ProofError::PrivateKey);
    }
    let by_header = |h: &Header| {
        let jwk = h.jwk.as_ref()?;
        VerifyingKey::for_alg(jwk, h.alg.parse().ok()?).ok()
    };
    let (header, payload) =
        jose::verify_by(proof, &ALGORITHMS, by_header).map_err(|e| match e {
            JoseError::UnsupportedAlg => ProofError::UnsupportedAlg,
            JoseError::UnknownKey => ProofError::NoKey,
            JoseError::BadSignature => ProofError::BadSignature,
            JoseError::Malformed | JoseError::Crypto => ProofError::Malformed,
        })?;
    if header.typ.as_deref() != Some(PROOF_TYP) {
        return Err(ProofError::WrongType);
    }
    let jwk = header.jwk.ok_or(ProofError::NoKey)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| ProofError::Malformed)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(ProofError::BadJti);
    }
    if claims.htm != expected.htm {
        return Err(ProofError::WrongMethod);
    }
    match (normalized_url(&claims.htu), normalized_url(expected.htu)) {
        (Some(sent), Some(wanted)) if sent == wanted => {}
        _ => return Err(ProofError::WrongUrl),
    }
    if (claims.iat - expected.now).abs() > IAT_WINDOW {
        return Err(ProofError::Stale);
    }
    match (expected.access_token, claims.ath.as_deref()) {
        (Some(token), Some(ath)) if ath == access_token_hash(token) => {}
        (Some(_), Some(_)) => return Err(ProofError::WrongAth),
        (Some(_), None) => return Err(ProofError::MissingAth),
        (None, _) => {}
    }
    let nonce = claims.nonce.filter(|n| n.len() <= MAX_NONCE_LEN);
    Ok(Proof {
        jkt: jose::thumbprint(&jwk),
        jti: claims.jti,
        iat: claims.iat,
        nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;
    const URL: &str = "https://id.example/oauth2/token";

    fn public(key: &SigningKey) -> Value {
        let mut jwk = serde_json::to_value(&key.jwk).unwrap();
        let map = jwk.as_object_mut().unwrap();
        for member in ["kid", "alg", "use"] {
            map.remove(member);
        }
        jwk
    }

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        key.sign_with_header(&header, &claims).unwrap()
    }

    fn good_header(key: &SigningKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": key.alg.as_str(), "jwk": public(key)})
    }

    fn good_claims() -> Value {
        json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": NOW})
    }

    fn expected(access_token: Option<&str>) -> Expected<'_> {
        Expected {
            htm: "POST",
            htu: URL,
            access_token,
            now: NOW,
        }
    }

    #[test]
    fn a_good_proof_names_its_keys_thumbprint_with_either_algorithm() {
        for alg in ALGORITHMS {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let p = verify(
                &proof(&key, good_header(&key), good_claims()),
                &expected(None),
            )
            .unwrap();
            assert_eq!(p.jkt, key.kid);
            assert_eq!(p.jti, "j1");
            assert_eq!(p.replay_expires_at(), NOW + IAT_WINDOW + 1);
        }
    }

    #[test]
    fn each_mismatch_is_refused_for_its_reason() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let with = |k: &str, v: Value| {
            let mut c = good_claims();
            c[k] = v;
            proof(&key, good_header(&key), c)
        };
        let cases = [
            (with("htm", json!("GET")), ProofError::WrongMethod),
            (
                with("htu", json!("https://id.example/oauth2/other")),
                ProofError::WrongUrl,
            ),
            (with("htu", json!("/oauth2/token")), ProofError::WrongUrl),
            (with("iat", json!(NOW - IAT_WINDOW - 1)), ProofError::Stale),
            (with("iat", json!(NOW + IAT_WINDOW + 1)), ProofError::Stale),
            (with("jti", json!("")), ProofError::BadJti),
            (
                with("jti", json!("x".repeat(MAX_JTI_LEN + 1))),
                ProofError::BadJti,
            ),
        ];
        for (p, why) in cases {
            assert_eq!(verify(&p, &expected(None)), Err(why));
        }
        // Query and fragment are ignored, and so are the case of the host and a default port.
        let p = with("htu", json!("https://ID.example:443/oauth2/token?x=1#f"));
        assert!(verify(&p, &expected(None)).is_ok());
    }

    #[test]
    fn the_header_must_be_a_dpop_proofs_with_a_public_key() {
        let (key, der) = SigningKey::generate(Alg::ES256).unwrap();
        let mut header = good_header(&key);
        header["typ"] = json!("JWT");
        let p = proof(&key, header, good_claims());
        assert_eq!(verify(&p, &expected(None)), Err(ProofError::WrongType));

        let mut header = good_header(&key);
        header["jwk"]["d"] = json!(URL_SAFE_NO_PAD.encode(&der[..32]));
        let p = proof(&key, header, good_claims());
        assert_eq!(verify(&p, &expected(None)), Err(ProofError::PrivateKey));

        // Signed by another key than the one in the header.
        let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
        let p = proof(&other, good_header(&key), good_claims());
        assert_eq!(verify(&p, &expected(None)), Err(ProofError::BadSignature));

        let mut header = good_header(&key);
        header.as_object_mut().unwrap().remove("jwk");
        let p = proof(&key, header, good_claims());
        assert_eq!(verify(&p, &expected(None)), Err(ProofError::NoKey));

        let none = json!({"typ": "dpop+jwt", "alg": "none", "jwk": public(&key)});
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(none.to_string()),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        );
        assert_eq!(
            verify(&unsigned, &expected(None)),
            Err(ProofError::UnsupportedAlg)
        );
        let huge = "a".repeat(MAX_PROOF_LEN + 1);
        assert_eq!(verify(&huge, &expected(None)), Err(ProofError::TooLarge));
    }

    #[test]
    fn a_proof_with_an_access_token_carries_its_hash() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let mut claims = good_claims();
        claims["ath"] = json!(access_token_hash("token-a"));
        let p = proof(&key, good_header(&key), claims);
        assert!(verify(&p, &expected(Some("token-a"))).is_ok());
        assert_eq!(
            verify(&p, &expected(Some("token-b"))),
            Err(ProofError::WrongAth)
        );
        let p = proof(&key, good_header(&key), good_claims());
        assert_eq!(
            verify(&p, &expected(Some("token-a"))),
            Err(ProofError::MissingAth)
        );
    }
}
