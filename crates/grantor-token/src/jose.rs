//! JSON Web Keys and JSON Web Tokens, on `aws-lc-rs`.
//!
//! Keys are parsed once into [`SigningKey`]s (signing is the token endpoint's main cost); the
//! private halves are stored encrypted under a key-encryption key ([`KeyEncryptionKey`]).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    ES256,
    RS256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

impl Alg {
    /// The algorithms accepted for DPoP proofs, by name, for discovery.
    pub fn dpop_names() -> Vec<&'static str> {
        crate::dpop::ALGORITHMS.iter().map(|a| a.as_str()).collect()
    }
}

impl FromStr for Alg {
    type Err = JoseError;
    fn from_str(s: &str) -> Result<Self, JoseError> {
        match s {
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            _ => Err(JoseError::UnsupportedAlg),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoseError {
    Malformed,
    UnsupportedAlg,
    UnknownKey,
    BadSignature,
    Crypto,
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the token is not a well-formed JWT",
            Self::UnsupportedAlg => "the token's algorithm is not accepted",
            Self::UnknownKey => "the token names a key that is not known",
            Self::BadSignature => "the token's signature is invalid",
            Self::Crypto => "a cryptographic operation failed",
        })
    }
}

impl std::error::Error for JoseError {}

/// A public key in JWK form (RFC 7517), as published at the JWKS endpoint. Keys that others
/// publish (an app's keys, a DPoP proof's) may leave out `kid`, `alg` and `use`: they read as
/// empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default)]
    pub alg: String,
    #[serde(rename = "use", default)]
    pub use_: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

enum Private {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// The JWT types Grantor signs; their encoded headers are prepared once per key.
const PREPARED_TYPS: [&str; 2] = ["at+jwt", "JWT"];

/// A parsed private key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    private: Private,
    pub jwk: Jwk,
    /// Base64url headers for [`PREPARED_TYPS`], in the same order.
    headers: Vec<String>,
}

fn encoded_header(alg: Alg, typ: &str, kid: &str) -> Result<String, JoseError> {
    let header = serde_json::json!({"alg": alg.as_str(), "typ": typ, "kid": kid});
    let bytes = serde_json::to_vec(&header).map_err(|_| JoseError::Crypto)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// Generates a key; returns it with its PKCS#8 DER encoding for storage.
    pub fn generate(alg: Alg) -> Result<(Self, Vec<u8>), JoseError> {
        let der = match alg {
            Alg::ES256 => {
                let rng = rand::SystemRandom::new();
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| JoseError::Crypto)?
                    .as_ref()
                    .to_vec()
            }
            Alg::RS256 => {
                let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JoseError::Crypto)?;
                key.as_der()
                    .map_err(|_| JoseError::Crypto)?
                    .as_ref()
                    .to_vec()
            }
        };
        let key = Self::from_pkcs8(alg, &der)?;
        Ok((key, der))
    }

    /// Parses a stored key. The `kid` is derived from the public key (RFC 7638 thumbprint),
    /// so it is unique and stable.
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<Self, JoseError> {
        let (private, mut jwk) = match alg {
            Alg::ES256 => {
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| JoseError::Crypto)?;
                let point = key.public_key().as_ref();
                // Uncompressed point: 0x04 || X (32) || Y (32).
                if point.len() != 65 {
                    return Err(JoseError::Crypto);
                }
                let jwk = Jwk {
                    kty: "EC".into(),
                    kid: String::new(),
                    alg: "ES256".into(),
                    use_: "sig".into(),
                    crv: Some("P-256".into()),
                    x: Some(b64(&point[1..33])),
                    y: Some(b64(&point[33..65])),
                    n: None,
                    e: None,
                };
                (Private::Ec(key), jwk)
            }
            Alg::RS256 => {
                let key = RsaKeyPair::from_pkcs8(der).map_err(|_| JoseError::Crypto)?;
                let parts = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
                let jwk = Jwk {
                    kty: "RSA".into(),
                    kid: String::new(),
                    alg: "RS256".into(),
                    use_: "sig".into(),
                    crv: None,
                    x: None,
                    y: None,
                    n: Some(b64(strip_zeros(&parts.n))),
                    e: Some(b64(strip_zeros(&parts.e))),
                };
                (Private::Rsa(key), jwk)
            }
        };
        jwk.kid = thumbprint(&jwk);
        let headers = PREPARED_TYPS
            .iter()
            .map(|typ| encoded_header(alg, typ, &jwk.kid))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            private,
            jwk,
            headers,
        })
    }

    /// Signs `claims` as a compact JWS with header `{alg, typ, kid}`.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, JoseError> {
        let payload = serde_json::to_vec(claims).map_err(|_| JoseError::Crypto)?;
        let mut token = String::with_capacity(payload.len() * 2 + 600);
        match PREPARED_TYPS
            .iter()
            .position(|t| *t == typ)
            .and_then(|i| self.headers.get(i))
        {
            Some(prepared) => token.push_str(prepared),
            None => token.push_str(&encoded_header(self.alg, typ, &self.kid)?),
        }
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        self.finish(token)
    }

    /// Signs `claims` under a header of the caller's making (a client assertion's, a DPoP
    /// proof's); the header's `alg` must be this key's.
    pub fn sign_with_header<C: Serialize>(
        &self,
        header: &serde_json::Value,
        claims: &C,
    ) -> Result<String, JoseError> {
        if header.get("alg").and_then(|a| a.as_str()) != Some(self.alg.as_str()) {
            return Err(JoseError::UnsupportedAlg);
        }
        let header = serde_json::to_vec(header).map_err(|_| JoseError::Crypto)?;
        let payload = serde_json::to_vec(claims).map_err(|_| JoseError::Crypto)?;
        let mut token = b64(&header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        self.finish(token)
    }

    /// Appends the signature of `signing_input` (`header.payload`) to it.
    fn finish(&self, mut token: String) -> Result<String, JoseError> {
        let rng = rand::SystemRandom::new();
        let sig = match &self.private {
            Private::Ec(key) => key
                .sign(&rng, token.as_bytes())
                .map_err(|_| JoseError::Crypto)?
                .as_ref()
                .to_vec(),
            Private::Rsa(key) => {
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, token.as_bytes(), &mut sig)
                    .map_err(|_| JoseError::Crypto)?;
                sig
            }
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut token);
        Ok(token)
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// RFC 7638 JWK thumbprint, base64url SHA-256 of the required members in lexical order: what
/// a DPoP-bound token's `cnf.jkt` names.
pub fn thumbprint(jwk: &Jwk) -> String {
    let canonical = match jwk.kty.as_str() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.crv.as_deref().unwrap_or_default(),
            jwk.x.as_deref().unwrap_or_default(),
            jwk.y.as_deref().unwrap_or_default()
        ),
        _ => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk.e.as_deref().unwrap_or_default(),
            jwk.n.as_deref().unwrap_or_default()
        ),
    };
    b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
}

/// A public key that verifies signatures, built from a [`Jwk`] and parsed once: parsing an
/// EC point costs more than the verification itself.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    pub kid: String,
    pub alg: Alg,
    key: ParsedPublicKey,
}

impl VerifyingKey {
    /// A key for the algorithm its JWK names.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        Self::for_alg(jwk, jwk.alg.parse()?)
    }

    /// A key for `alg`, which a JWK without an `alg` of its own takes from the signature's
    /// header; a JWK that names another algorithm is refused.
    pub fn for_alg(jwk: &Jwk, alg: Alg) -> Result<Self, JoseError> {
        if !jwk.alg.is_empty() && jwk.alg != alg.as_str() {
            return Err(JoseError::UnsupportedAlg);
        }
        let decode = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                .ok_or(JoseError::Malformed)
        };
        let key = match (alg, jwk.kty.as_str()) {
            (Alg::ES256, "EC") => {
                let mut point = vec![4u8];
                point.extend(decode(&jwk.x)?);
                point.extend(decode(&jwk.y)?);
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            }
            (Alg::RS256, "RSA") => {
                let parts = PublicKeyComponents {
                    n: decode(&jwk.n)?,
                    e: decode(&jwk.e)?,
                };
                let der = parts.as_der().map_err(|_| JoseError::Malformed)?;
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref())
            }
            _ => return Err(JoseError::UnsupportedAlg),
        }
        .map_err(|_| JoseError::Malformed)?;
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            key,
        })
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        self.key
            .verify_sig(message, sig)
            .map_err(|_| JoseError::BadSignature)
    }
}

/// The parts of a compact JWS that are needed before trusting it.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    /// The signer's public key, carried in the header (DPoP proofs, RFC 9449 4.2).
    #[serde(default)]
    pub jwk: Option<Jwk>,
}

/// Verifies a compact JWS and returns its header and payload bytes.
///
/// `find_key` maps a `kid` to a key; the header's `alg` must be in `allowed` and equal the
/// key's own algorithm, so an attacker cannot choose the algorithm.
pub fn verify<'k>(
    token: &str,
    allowed: &[Alg],
    find_key: impl Fn(&str) -> Option<&'k VerifyingKey>,
) -> Result<(Header, Vec<u8>), JoseError> {
    verify_by(token, allowed, |header| {
        header.kid.as_deref().and_then(&find_key)
    })
}

/// Verifies a compact JWS with the key `find_key` picks from its header: by `kid`, or built
/// from the header's own `jwk`. The same rule on `alg` holds.
pub fn verify_by<K: std::borrow::Borrow<VerifyingKey>>(
    token: &str,
    allowed: &[Alg],
    find_key: impl FnOnce(&Header) -> Option<K>,
) -> Result<(Header, Vec<u8>), JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| JoseError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JoseError::Malformed)?;
    let alg: Alg = header.alg.parse()?;
    if !allowed.contains(&alg) {
        return Err(JoseError::UnsupportedAlg);
    }
    let key = find_key(&header).ok_or(JoseError::UnknownKey)?;
    let key = key.borrow();
    if key.alg != alg {
        return Err(JoseError::UnsupportedAlg);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed)?;
    key.verify(&token.as_bytes()[..h.len() + 1 + p.len()], &sig)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JoseError::Malformed)?;
    Ok((header, payload))
}

/// Left half of the SHA-256 of a token, base64url: OIDC's `at_hash` for RS256 and ES256.
pub fn left_half_hash(value: &str) -> String {
    let d = digest::digest(&digest::SHA256, value.as_bytes());
    b64(&d.as_ref()[..16])
}

/// The key-encryption key: AES-256-GCM over private signing keys at rest. It also seeds the
/// MAC keys of other node-shared secrets (CSRF tokens), so operators configure one secret.
pub struct KeyEncryptionKey {
    aead: LessSafeKey,
    raw: [u8; 32],
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    /// From the configured form: 32 bytes, standard or URL-safe base64.
    pub fn parse(encoded: &str) -> Result<Self, String> {
        let encoded = encoded.trim();
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
            .map_err(|_| "the key-encryption key is not valid base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!(
                "the key-encryption key must be 32 bytes (base64 of 32 random bytes), got {}",
                bytes.len()
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "the key-encryption key was rejected".to_string())?;
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bytes);
        Ok(Self {
            aead: LessSafeKey::new(key),
            raw,
        })
    }

    /// An HMAC-SHA256 key for `purpose`, the same on every node sharing this key.
    pub fn derive_mac_key(&self, purpose: &str) -> hmac::Key {
        let seed = hmac::Key::new(hmac::HMAC_SHA256, &self.raw);
        hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&seed, purpose.as_bytes()).as_ref(),
        )
    }

    /// A fresh random key, base64-encoded, for writing to a file.
    pub fn generate_encoded() -> Result<String, JoseError> {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes).map_err(|_| JoseError::Crypto)?;
        Ok(STANDARD.encode(bytes))
    }

    /// Encrypts `plaintext`; output is base64(nonce || ciphertext || tag). `aad` binds the
    /// ciphertext to its key id so rows cannot be swapped.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<String, JoseError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| JoseError::Crypto)?;
        let mut buf = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| JoseError::Crypto)?;
        let mut out = nonce.to_vec();
        out.extend(buf);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, JoseError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| JoseError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(JoseError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| JoseError::Malformed)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| JoseError::Crypto)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_with_both_algorithms() {
        for alg in [Alg::ES256, Alg::RS256] {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(key.kid, again.kid);
            let token = key
                .sign("at+jwt", &serde_json::json!({"sub": "x"}))
                .unwrap();
            let vk = VerifyingKey::from_jwk(&key.jwk).unwrap();
            let (header, payload) = verify(&token, &[alg], |_| Some(&vk)).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(payload, br#"{"sub":"x"}"#);
            // A flipped payload byte breaks the signature.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert_eq!(
                verify(&parts.join("."), &[alg], |_| Some(&vk)).unwrap_err(),
                JoseError::BadSignature
            );
        }
    }

    #[test]
    fn refuses_an_algorithm_outside_the_allow_list() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let token = key.sign("at+jwt", &serde_json::json!({})).unwrap();
        let vk = VerifyingKey::from_jwk(&key.jwk).unwrap();
        assert_eq!(
            verify(&token, &[Alg::RS256], |_| Some(&vk)).unwrap_err(),
            JoseError::UnsupportedAlg
        );
    }

    #[test]
    fn a_key_carried_in_the_header_verifies_under_the_headers_algorithm() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let mut public = key.jwk.clone();
        (public.kid, public.alg, public.use_) = (String::new(), String::new(), String::new());
        let header = serde_json::json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": public});
        let token = key
            .sign_with_header(&header, &serde_json::json!({"jti": "1"}))
            .unwrap();
        let by_header = |h: &Header| {
            let jwk = h.jwk.as_ref()?;
            VerifyingKey::for_alg(jwk, h.alg.parse().ok()?).ok()
        };
        let (header, payload) = verify_by(&token, &[Alg::ES256], by_header).unwrap();
        assert_eq!(header.jwk.map(|j| thumbprint(&j)), Some(key.kid.clone()));
        assert_eq!(payload, br#"{"jti":"1"}"#);
        // A JWK that names another algorithm than the header's is refused.
        let mut rsa_named = key.jwk.clone();
        rsa_named.alg = "RS256".into();
        assert!(VerifyingKey::for_alg(&rsa_named, Alg::ES256).is_err());
    }

    #[test]
    fn kek_round_trips_and_binds_the_key_id() {
        let kek = KeyEncryptionKey::parse(&KeyEncryptionKey::generate_encoded().unwrap()).unwrap();
        let sealed = kek.seal("kid1", b"secret").unwrap();
        assert_eq!(kek.open("kid1", &sealed).unwrap(), b"secret");
        assert!(kek.open("kid2", &sealed).is_err());
        assert!(KeyEncryptionKey::parse("c2hvcnQ=").is_err());
    }
}
