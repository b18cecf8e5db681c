//! WebAuthn relying-party checks, narrowly, on aws-lc-rs (issue 20, point 6).
//!
//! `webauthn-rs` would bring OpenSSL beside aws-lc-rs; what passkeys need is small: attestation
//! "none" (the statement of any other format is ignored, as an RP asking for "none" does), ES256
//! and RS256 keys, and the checks of WebAuthn Level 2 sections 7.1 and 7.2 that apply to it:
//! the client data's `type`, `challenge` and `origin`; the RP ID hash; the UP and UV flags; a
//! credential id of at most 1023 bytes; a signature count that only moves forward.
//!
//! Challenges are made and checked here too: random bytes, an expiry and a MAC over both and
//! what the challenge is for (its purpose and the browser or user it was given to), so no
//! table is needed to know a challenge is ours; the caller makes each one single use through
//! the replay store.

use crate::CryptoError;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minicbor::Decoder;
use serde::Deserialize;
use std::fmt;

/// COSE algorithm ES256 (ECDSA on P-256 with SHA-256).
pub const ES256: i64 = -7;
/// COSE algorithm RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const RS256: i64 = -257;
/// The algorithms offered to authenticators, in order of preference.
pub const ALGORITHMS: [i64; 2] = [ES256, RS256];
/// WebAuthn's bound on credential ids (Level 3, section 5.1.3 step 19).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// How long a challenge can be answered.
pub const CHALLENGE_TTL: i64 = 10 * 60;

const NONCE_LEN: usize = 16;
const MAC_LEN: usize = 32;
const CHALLENGE_LEN: usize = NONCE_LEN + 8 + MAC_LEN;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_AT: u8 = 0x40;

/// Who the passkeys are for: the issuer's host and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID: the issuer's host.
    pub id: String,
    /// The only origin accepted in client data: the issuer's scheme, host and port.
    pub origin: String,
}

impl RelyingParty {
    /// The relying party of an issuer URL; `None` for one without a host.
    pub fn for_issuer(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let id = url.host_str()?.to_string();
        Some(Self {
            id,
            origin: url.origin().ascii_serialization(),
        })
    }
}

/// Why a passkey response was refused. The detail is for logs; people see one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebAuthnError {
    Malformed,
    WrongType,
    WrongChallenge,
    WrongOrigin,
    WrongRelyingParty,
    NoUserPresence,
    NoUserVerification,
    UnsupportedAlgorithm,
    CredentialIdTooLong,
    BadSignature,
    /// The signature count did not move forward: a cloned authenticator, or a replay.
    CounterWentBack,
}

impl fmt::Display for WebAuthnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Malformed => "malformed WebAuthn response",
            Self::WrongType => "client data of the wrong type",
            Self::WrongChallenge => "not the challenge given",
            Self::WrongOrigin => "client data from another origin",
            Self::WrongRelyingParty => "authenticator data for another RP ID",
            Self::NoUserPresence => "the user was not present",
            Self::NoUserVerification => "the user was not verified",
            Self::UnsupportedAlgorithm => "unsupported key or algorithm",
            Self::CredentialIdTooLong => "credential id longer than 1023 bytes",
            Self::BadSignature => "bad signature",
            Self::CounterWentBack => "signature count did not increase",
        };
        f.write_str(text)
    }
}

impl std::error::Error for WebAuthnError {}

/// A credential just registered: what is stored to verify its later assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub credential_id: Vec<u8>,
    /// The COSE key as the authenticator sent it, checked to parse.
    pub public_key: Vec<u8>,
    pub alg: i64,
    pub sign_count: u32,
}

/// What a verified assertion tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub sign_count: u32,
    /// The BE flag: the credential may be synced to other devices (a software key, `swk`);
    /// otherwise it is bound to one authenticator (a hardware key, `hwk`).
    pub backup_eligible: bool,
}

/// A fresh challenge for `purpose` (`register`, `sign-in`, `second-step`), bound to
/// `binding` (the session, the browser or the pending user), as base64url.
pub fn new_challenge(
    key: &hmac::Key,
    purpose: &str,
    binding: &str,
    now: i64,
) -> Result<String, CryptoError> {
    let nonce: [u8; NONCE_LEN] = crate::secret::random_bytes()?;
    let expires_at = now.saturating_add(CHALLENGE_TTL);
    let mut bytes = Vec::with_capacity(CHALLENGE_LEN);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&expires_at.to_be_bytes());
    let mac = hmac::sign(key, &challenge_mac_input(purpose, binding, &bytes));
    bytes.extend_from_slice(mac.as_ref());
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn challenge_mac_input(purpose: &str, binding: &str, nonce_and_expiry: &[u8]) -> Vec<u8> {
    let mut input = format!("grantor webauthn\n{purpose}\n{binding}\n").into_bytes();
    input.extend_from_slice(nonce_and_expiry);
    input
}

/// A challenge of ours, opened: its bytes (what the client data must carry) and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub bytes: Vec<u8>,
    pub expires_at: i64,
}

impl Challenge {
    /// The challenge `encoded` if this server made it for `purpose` and `binding` and it has
    /// not expired. It is not yet used up: see `Manager`'s passkey methods.
    pub fn open(
        key: &hmac::Key,
        purpose: &str,
        binding: &str,
        encoded: &str,
        now: i64,
    ) -> Option<Self> {
        if encoded.len() > 2 * CHALLENGE_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() != CHALLENGE_LEN {
            return None;
        }
        let (signed, mac) = bytes.split_at(NONCE_LEN + 8);
        hmac::verify(key, &challenge_mac_input(purpose, binding, signed), mac).ok()?;
        let expiry: [u8; 8] = signed.get(NONCE_LEN..)?.try_into().ok()?;
        let expires_at = i64::from_be_bytes(expiry);
        (expires_at > now).then_some(Self { bytes, expires_at })
    }

    /// The key under which the replay store remembers this challenge was used.
    pub fn jti(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes.get(..NONCE_LEN).unwrap_or_default())
    }
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

fn check_client_data(
    rp: &RelyingParty,
    kind: &str,
    challenge: &[u8],
    json: &[u8],
) -> Result<(), WebAuthnError> {
    let data: ClientData = serde_json::from_slice(json).map_err(|_| WebAuthnError::Malformed)?;
    if data.kind != kind {
        return Err(WebAuthnError::WrongType);
    }
    let given = URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| WebAuthnError::WrongChallenge)?;
    if given != challenge {
        return Err(WebAuthnError::WrongChallenge);
    }
    if data.origin != rp.origin || data.cross_origin {
        return Err(WebAuthnError::WrongOrigin);
    }
    Ok(())
}

/// The parts of authenticator data that are checked.
struct AuthData<'a> {
    flags: u8,
    sign_count: u32,
    /// The attested credential's id and COSE key, when the AT flag is set.
    attested: Option<(&'a [u8], &'a [u8])>,
}

fn parse_auth_data<'a>(rp: &RelyingParty, bytes: &'a [u8]) -> Result<AuthData<'a>, WebAuthnError> {
    let m = WebAuthnError::Malformed;
    let rp_id_hash = bytes.get(..32).ok_or(m)?;
    if rp_id_hash != digest(&SHA256, rp.id.as_bytes()).as_ref() {
        return Err(WebAuthnError::WrongRelyingParty);
    }
    let flags = *bytes.get(32).ok_or(m)?;
    let count: [u8; 4] = bytes.get(33..37).ok_or(m)?.try_into().map_err(|_| m)?;
    if flags & FLAG_UP == 0 {
        return Err(WebAuthnError::NoUserPresence);
    }
    if flags & FLAG_UV == 0 {
        return Err(WebAuthnError::NoUserVerification);
    }
    let attested = if flags & FLAG_AT != 0 {
        // AAGUID (16 bytes), the id's length (2), the id, then the COSE key.
        let len: [u8; 2] = bytes.get(53..55).ok_or(m)?.try_into().map_err(|_| m)?;
        let len = usize::from(u16::from_be_bytes(len));
        if len > MAX_CREDENTIAL_ID {
            return Err(WebAuthnError::CredentialIdTooLong);
        }
        let id = bytes.get(55..55 + len).ok_or(m)?;
        let rest = bytes.get(55 + len..).ok_or(m)?;
        let mut d = Decoder::new(rest);
        d.skip().map_err(|_| m)?;
        let key = rest.get(..d.position()).ok_or(m)?;
        if id.is_empty() {
            return Err(m);
        }
        Some((id, key))
    } else {
        None
    };
    Ok(AuthData {
        flags,
        sign_count: u32::from_be_bytes(count),
        attested,
    })
}

/// A COSE key (RFC 9053) of an allowed algorithm, parsed for verifying.
fn parse_cose_key(bytes: &[u8]) -> Result<(i64, ParsedPublicKey), WebAuthnError> {
    let m = |_| WebAuthnError::Malformed;
    let mut d = Decoder::new(bytes);
    let entries = d.map().map_err(m)?.ok_or(WebAuthnError::Malformed)?;
    if entries > 16 {
        return Err(WebAuthnError::Malformed);
    }
    let (mut kty, mut alg, mut crv) = (None, None, None);
    // The byte strings labelled -1, -2 and -3.
    let mut a: Option<&[u8]> = None;
    let mut b: Option<&[u8]> = None;
    let mut c: Option<&[u8]> = None;
    for _ in 0..entries {
        let label = d.i64().map_err(m)?;
        match label {
            1 => kty = Some(d.i64().map_err(m)?),
            3 => alg = Some(d.i64().map_err(m)?),
            // -1 is `n` for RSA keys (kty 3, which comes first in CTAP2 canonical order) and
            // `crv` for others; -2 is `x` or `e`; -3 `y`.
            -1 if kty != Some(3) => crv = Some(d.i64().map_err(m)?),
            -1 => a = Some(d.bytes().map_err(m)?),
            -2 => b = Some(d.bytes().map_err(m)?),
            -3 => c = Some(d.bytes().map_err(m)?),
            _ => d.skip().map_err(m)?,
        }
    }
    let unsupported = WebAuthnError::UnsupportedAlgorithm;
    let key = match (kty, alg) {
        (Some(2), Some(ES256)) => {
            let (x, y) = (b.ok_or(unsupported)?, c.ok_or(unsupported)?);
            if crv != Some(1) || x.len() != 32 || y.len() != 32 {
                return Err(unsupported);
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        }
        (Some(3), Some(RS256)) => {
            let parts = PublicKeyComponents {
                n: a.ok_or(unsupported)?,
                e: b.ok_or(unsupported)?,
            };
            let der = parts.as_der().map_err(|_| unsupported)?;
            ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref())
        }
        _ => return Err(unsupported),
    }
    .map_err(|_| unsupported)?;
    Ok((alg.unwrap_or_default(), key))
}

/// The attestation object's `authData`; its `fmt` and `attStmt` are not needed (see the
/// module's comment).
fn attested_auth_data(attestation_object: &[u8]) -> Result<&[u8], WebAuthnError> {
    let m = |_| WebAuthnError::Malformed;
    let mut d = Decoder::new(attestation_object);
    let entries = d.map().map_err(m)?.ok_or(WebAuthnError::Malformed)?;
    let mut auth_data = None;
    for _ in 0..entries.min(8) {
        match d.str().map_err(m)? {
            "authData" => auth_data = Some(d.bytes().map_err(m)?),
            _ => d.skip().map_err(m)?,
        }
    }
    auth_data.ok_or(WebAuthnError::Malformed)
}

/// Verifies a registration (`navigator.credentials.create`'s response) answering
/// `challenge`; returns the credential to store.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewCredential, WebAuthnError> {
    check_client_data(rp, "webauthn.create", challenge, client_data_json)?;
    let data = parse_auth_data(rp, attested_auth_data(attestation_object)?)?;
    let (id, key) = data.attested.ok_or(WebAuthnError::Malformed)?;
    let (alg, _) = parse_cose_key(key)?;
    Ok(NewCredential {
        credential_id: id.to_vec(),
        public_key: key.to_vec(),
        alg,
        sign_count: data.sign_count,
    })
}

/// Verifies an assertion (`navigator.credentials.get`'s response) answering `challenge`, by
/// the stored credential `public_key` whose count was `stored_count`.
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    public_key: &[u8],
    stored_count: u32,
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<Verified, WebAuthnError> {
    check_client_data(rp, "webauthn.get", challenge, client_data_json)?;
    let data = parse_auth_data(rp, authenticator_data)?;
    let (_, key) = parse_cose_key(public_key)?;
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(digest(&SHA256, client_data_json).as_ref());
    key.verify_sig(&signed, signature)
        .map_err(|_| WebAuthnError::BadSignature)?;
    // Authenticators that keep no count send zero every time (passkeys synced between
    // devices do); once either side is nonzero, it must move forward.
    if (data.sign_count != 0 || stored_count != 0) && data.sign_count <= stored_count {
        return Err(WebAuthnError::CounterWentBack);
    }
    Ok(Verified {
        sign_count: data.sign_count,
        backup_eligible: data.flags & FLAG_BE != 0,
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! A software authenticator: keys from aws-lc-rs, CBOR and authenticator data built by
    //! hand, so the verifier is checked against bytes it did not make itself.

    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };

    /// A CBOR head: major type and argument.
    fn head(major: u8, n: u64) -> Vec<u8> {
        let mt = major << 5;
        match n {
            0..=23 => vec![mt | n as u8],
            24..=0xff => vec![mt | 24, n as u8],
            0x100..=0xffff => {
                let mut v = vec![mt | 25];
                v.extend_from_slice(&(n as u16).to_be_bytes());
                v
            }
            _ => {
                let mut v = vec![mt | 26];
                v.extend_from_slice(&(n as u32).to_be_bytes());
                v
            }
        }
    }

    pub fn int(i: i64) -> Vec<u8> {
        if i >= 0 {
            head(0, i as u64)
        } else {
            head(1, (-1 - i) as u64)
        }
    }

    pub fn bytes(b: &[u8]) -> Vec<u8> {
        let mut v = head(2, b.len() as u64);
        v.extend_from_slice(b);
        v
    }

    pub fn text(s: &str) -> Vec<u8> {
        let mut v = head(3, s.len() as u64);
        v.extend_from_slice(s.as_bytes());
        v
    }

    pub fn map(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut v = head(5, pairs.len() as u64);
        for (k, val) in pairs {
            v.extend_from_slice(k);
            v.extend_from_slice(val);
        }
        v
    }

    pub enum Key {
        Ec(EcdsaKeyPair),
        Rsa(RsaKeyPair),
    }

    pub struct Authenticator {
        pub key: Key,
        pub credential_id: Vec<u8>,
        pub count: u32,
        pub flags: u8,
        pub rp_id: String,
        pub origin: String,
    }

    impl Authenticator {
        pub fn es256(rp: &RelyingParty) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
            Self::with(Key::Ec(key), rp)
        }

        pub fn rs256(rp: &RelyingParty) -> Self {
            Self::with(
                Key::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
                rp,
            )
        }

        fn with(key: Key, rp: &RelyingParty) -> Self {
            Self {
                key,
                credential_id: crate::secret::random_bytes::<32>().unwrap().to_vec(),
                count: 0,
                flags: FLAG_UP | FLAG_UV,
                rp_id: rp.id.clone(),
                origin: rp.origin.clone(),
            }
        }

        pub fn cose_key(&self) -> Vec<u8> {
            match &self.key {
                Key::Ec(k) => {
                    let point = k.public_key().as_ref();
                    map(&[
                        (int(1), int(2)),
                        (int(3), int(ES256)),
                        (int(-1), int(1)),
                        (int(-2), bytes(&point[1..33])),
                        (int(-3), bytes(&point[33..65])),
                    ])
                }
                Key::Rsa(k) => {
                    let parts = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                    map(&[
                        (int(1), int(3)),
                        (int(3), int(RS256)),
                        (int(-1), bytes(&parts.n)),
                        (int(-2), bytes(&parts.e)),
                    ])
                }
            }
        }

        pub fn client_data(&self, kind: &str, challenge: &[u8]) -> Vec<u8> {
            serde_json::json!({
                "type": kind,
                "challenge": URL_SAFE_NO_PAD.encode(challenge),
                "origin": self.origin,
                "crossOrigin": false,
            })
            .to_string()
            .into_bytes()
        }

        pub fn auth_data(&self, attested: bool) -> Vec<u8> {
            let mut v = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
            v.push(self.flags | if attested { FLAG_AT } else { 0 });
            v.extend_from_slice(&self.count.to_be_bytes());
            if attested {
                v.extend_from_slice(&[0; 16]);
                v.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
                v.extend_from_slice(&self.credential_id);
                v.extend_from_slice(&self.cose_key());
            }
            v
        }

        /// `(clientDataJSON, attestationObject)` of a registration.
        pub fn register(&self, challenge: &[u8]) -> (Vec<u8>, Vec<u8>) {
            let object = map(&[
                (text("fmt"), text("none")),
                (text("attStmt"), map(&[])),
                (text("authData"), bytes(&self.auth_data(true))),
            ]);
            (self.client_data("webauthn.create", challenge), object)
        }

        /// `(clientDataJSON, authenticatorData, signature)` of an assertion; counts once.
        pub fn assert(&mut self, challenge: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
            if self.count != 0 {
                self.count += 1;
            }
            let client_data = self.client_data("webauthn.get", challenge);
            let auth_data = self.auth_data(false);
            let mut signed = auth_data.clone();
            signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
            let signature = match &self.key {
                Key::Ec(k) => k
                    .sign(&SystemRandom::new(), &signed)
                    .unwrap()
                    .as_ref()
                    .to_vec(),
                Key::Rsa(k) => {
                    let mut sig = vec![0; k.public_modulus_len()];
                    k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &signed, &mut sig)
                        .unwrap();
                    sig
                }
            };
            (client_data, auth_data, signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    fn rp() -> RelyingParty {
        RelyingParty::for_issuer("https://id.example.com").unwrap()
    }

    fn registered(a: &Authenticator) -> NewCredential {
        let (cd, ao) = a.register(b"challenge-1");
        verify_registration(&rp(), b"challenge-1", &cd, &ao).unwrap()
    }

    #[test]
    fn the_relying_party_is_the_issuers_host_and_origin() {
        let rp = RelyingParty::for_issuer("https://id.example.com:8443/tenant").unwrap();
        assert_eq!(rp.id, "id.example.com");
        assert_eq!(rp.origin, "https://id.example.com:8443");
    }

    #[test]
    fn es256_and_rs256_register_and_sign_in() {
        for mut a in [Authenticator::es256(&rp()), Authenticator::rs256(&rp())] {
            let stored = registered(&a);
            assert_eq!(stored.credential_id, a.credential_id);
            let (cd, ad, sig) = a.assert(b"challenge-2");
            let verified =
                verify_assertion(&rp(), b"challenge-2", &stored.public_key, 0, &cd, &ad, &sig)
                    .unwrap();
            assert_eq!(verified.sign_count, 0);
            assert!(!verified.backup_eligible);
        }
    }

    #[test]
    fn another_challenge_type_origin_or_rp_is_refused() {
        let a = Authenticator::es256(&rp());
        let (cd, ao) = a.register(b"challenge-1");
        let r = verify_registration(&rp(), b"challenge-X", &cd, &ao);
        assert_eq!(r, Err(WebAuthnError::WrongChallenge));
        let get = a.client_data("webauthn.get", b"challenge-1");
        let r = verify_registration(&rp(), b"challenge-1", &get, &ao);
        assert_eq!(r, Err(WebAuthnError::WrongType));
        let evil = RelyingParty {
            id: "evil.example".into(),
            origin: "https://evil.example".into(),
        };
        let mut phished = Authenticator::es256(&rp());
        phished.origin = evil.origin.clone();
        let (cd, ao) = phished.register(b"c");
        assert_eq!(
            verify_registration(&rp(), b"c", &cd, &ao),
            Err(WebAuthnError::WrongOrigin)
        );
        let mut other_rp = Authenticator::es256(&evil);
        other_rp.origin = rp().origin;
        let (cd, ao) = other_rp.register(b"c");
        assert_eq!(
            verify_registration(&rp(), b"c", &cd, &ao),
            Err(WebAuthnError::WrongRelyingParty)
        );
    }

    #[test]
    fn presence_and_verification_are_required() {
        let mut a = Authenticator::es256(&rp());
        a.flags = FLAG_UP;
        let (cd, ao) = a.register(b"c");
        let r = verify_registration(&rp(), b"c", &cd, &ao);
        assert_eq!(r, Err(WebAuthnError::NoUserVerification));
        a.flags = FLAG_UV;
        let (cd, ao) = a.register(b"c");
        let r = verify_registration(&rp(), b"c", &cd, &ao);
        assert_eq!(r, Err(WebAuthnError::NoUserPresence));
    }

    #[test]
    fn a_forged_signature_or_another_key_is_refused() {
        let mut a = Authenticator::es256(&rp());
        let stored = registered(&a);
        let (cd, ad, mut sig) = a.assert(b"c");
        let last = sig.len() - 1;
        sig[last] ^= 1;
        let r = verify_assertion(&rp(), b"c", &stored.public_key, 0, &cd, &ad, &sig);
        assert_eq!(r, Err(WebAuthnError::BadSignature));
        let mut other = Authenticator::es256(&rp());
        let (cd, ad, sig) = other.assert(b"c");
        let r = verify_assertion(&rp(), b"c", &stored.public_key, 0, &cd, &ad, &sig);
        assert_eq!(r, Err(WebAuthnError::BadSignature));
    }

    #[test]
    fn the_count_only_moves_forward_once_used() {
        let mut a = Authenticator::es256(&rp());
        a.count = 5;
        let stored = registered(&a);
        let (cd, ad, sig) = a.assert(b"c");
        let ok = verify_assertion(&rp(), b"c", &stored.public_key, 5, &cd, &ad, &sig).unwrap();
        assert_eq!(ok.sign_count, 6);
        let r = verify_assertion(&rp(), b"c", &stored.public_key, 6, &cd, &ad, &sig);
        assert_eq!(
            r,
            Err(WebAuthnError::CounterWentBack),
            "a replayed assertion"
        );
    }

    #[test]
    fn backup_eligible_keys_are_software_keys() {
        let mut a = Authenticator::es256(&rp());
        a.flags |= FLAG_BE;
        let stored = registered(&a);
        let (cd, ad, sig) = a.assert(b"c");
        let v = verify_assertion(&rp(), b"c", &stored.public_key, 0, &cd, &ad, &sig).unwrap();
        assert!(v.backup_eligible);
    }

    #[test]
    fn long_credential_ids_and_other_algorithms_are_refused() {
        let mut a = Authenticator::es256(&rp());
        a.credential_id = vec![7; MAX_CREDENTIAL_ID + 1];
        let (cd, ao) = a.register(b"c");
        let r = verify_registration(&rp(), b"c", &cd, &ao);
        assert_eq!(r, Err(WebAuthnError::CredentialIdTooLong));
        // An Ed25519 key (kty OKP, alg -8) is not offered, so not taken.
        let okp = map(&[(int(1), int(1)), (int(3), int(-8)), (int(-1), int(6))]);
        assert!(matches!(
            parse_cose_key(&okp),
            Err(WebAuthnError::UnsupportedAlgorithm)
        ));
    }

    #[test]
    fn truncated_or_garbage_input_is_malformed_not_a_panic() {
        let a = Authenticator::es256(&rp());
        let (cd, ao) = a.register(b"c");
        for cut in 0..ao.len() {
            assert!(verify_registration(&rp(), b"c", &cd, &ao[..cut]).is_err());
        }
        assert!(verify_registration(&rp(), b"c", b"{", &ao).is_err());
    }

    #[test]
    fn challenges_are_bound_to_purpose_binding_and_time() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let c = new_challenge(&key, "sign-in", "browser-1", 100).unwrap();
        let opened = Challenge::open(&key, "sign-in", "browser-1", &c, 101).unwrap();
        assert_eq!(opened.expires_at, 100 + CHALLENGE_TTL);
        assert_eq!(URL_SAFE_NO_PAD.encode(&opened.bytes), c);
        assert!(Challenge::open(&key, "register", "browser-1", &c, 101).is_none());
        assert!(Challenge::open(&key, "sign-in", "browser-2", &c, 101).is_none());
        assert!(Challenge::open(&key, "sign-in", "browser-1", &c, 100 + CHALLENGE_TTL).is_none());
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"j");
        assert!(Challenge::open(&other, "sign-in", "browser-1", &c, 101).is_none());
    }
}
