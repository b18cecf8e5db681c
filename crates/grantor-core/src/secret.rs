//! High-entropy opaque values (app secrets, codes, refresh tokens, API tokens, session ids)
//! and identifiers.
//!
//! Opaque values are 256 bits from the OS RNG behind a readable prefix, so a leaked one is
//! recognisable by secret scanners. Only their SHA-256 is stored: at 256 bits of entropy a
//! fast hash is sufficient, and it keeps the token endpoint's hot path cheap.

use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The kinds of opaque value Grantor hands out, each with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AppSecret,
    AuthorizationCode,
    RefreshToken,
    ApiToken,
    Session,
    Csrf,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::AppSecret => "gr_sec_",
            Self::AuthorizationCode => "gr_ac_",
            Self::RefreshToken => "gr_rt_",
            Self::ApiToken => "gr_api_",
            Self::Session => "gr_ses_",
            Self::Csrf => "gr_csrf_",
        }
    }
}

/// `n` random bytes from the OS RNG. The RNG failing is not survivable for an
/// authorization server, but we still report it rather than panic.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], crate::StoreError> {
    let mut buf = [0u8; N];
    rand::fill(&mut buf).map_err(|_| crate::StoreError::Backend("OS RNG failed".into()))?;
    Ok(buf)
}

/// A fresh opaque value of the given kind: prefix + 43 base64url characters.
pub fn generate(kind: Kind) -> Result<String, crate::StoreError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A random identifier with a readable prefix (`org_`, `usr_`, `app_`...): 16 bytes, hex.
pub fn new_id(prefix: &str) -> Result<String, crate::StoreError> {
    let bytes: [u8; 16] = random_bytes()?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(prefix.len() + 32);
    s.push_str(prefix);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    Ok(s)
}

/// The stored form of an opaque value: base64url SHA-256.
pub fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}

/// Constant-time comparison of a presented value against a stored hash.
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    constant_time::verify_slices_are_equal(hash(presented).as_bytes(), stored_hash.as_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_carry_their_prefix_and_are_unique() {
        let a = generate(Kind::AppSecret).unwrap();
        let b = generate(Kind::AppSecret).unwrap();
        assert!(a.starts_with("gr_sec_"));
        assert_eq!(a.len(), "gr_sec_".len() + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn hashes_match_only_the_original() {
        let v = generate(Kind::RefreshToken).unwrap();
        let h = hash(&v);
        assert!(matches(&v, &h));
        assert!(!matches(&format!("{v}x"), &h));
        assert!(!h.contains(&v));
    }
}
