//! High-entropy opaque values (app secrets, codes, refresh tokens, API tokens, session ids)
//! and identifiers.
//!
//! Opaque values are 256 bits from the OS RNG behind a readable prefix, so a leaked one is
//! recognisable by secret scanners. Only their SHA-256 is stored: at 256 bits of entropy a
//! fast hash is sufficient, and it keeps the token endpoint's hot path cheap.

use crate::CryptoError;
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
    Invitation,
    PasswordReset,
    EmailVerification,
    /// RFC 8628: what a device polls the token endpoint with.
    DeviceCode,
    /// RFC 7592: what a dynamically registered app manages its registration with.
    RegistrationToken,
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
            Self::Invitation => "gr_inv_",
            Self::PasswordReset => "gr_pwr_",
            Self::EmailVerification => "gr_ev_",
            Self::DeviceCode => "gr_dc_",
            Self::RegistrationToken => "gr_reg_",
        }
    }
}

/// `n` random bytes from the OS RNG. The RNG failing is not survivable for an
/// authorization server, but we still report it rather than panic.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    rand::fill(&mut buf)
        .map_err(|_| CryptoError("the OS random number generator failed".into()))?;
    Ok(buf)
}

/// A fresh opaque value of the given kind: prefix + 43 base64url characters.
pub fn generate(kind: Kind) -> Result<String, CryptoError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Whether `value` looks like an opaque value of `kind`: its prefix and 43 base64url
/// characters (what [`generate`] makes).
pub fn has_shape(value: &str, kind: Kind) -> bool {
    value.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A random identifier with a readable prefix (`org_`, `usr_`, `app_`...): 16 bytes, hex.
pub fn new_id(prefix: &str) -> Result<String, CryptoError> {
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

/// An identifier that sorts after every one this process made before (`prefix`, then 32 hex
/// digits): the time `now` and a counter, then random bits so that nodes do not collide.
/// Audit events get these, so those of the same second list in the order they were written.
pub fn ordered_id(prefix: &str, now: i64) -> Result<String, CryptoError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    // The last value handed out; the next is above both it and the time (seconds, shifted).
    static LAST: AtomicU64 = AtomicU64::new(0);
    let floor = u64::try_from(now).unwrap_or(0) << 32;
    let mut next = floor;
    let _ = LAST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        next = floor.max(last + 1);
        Some(next)
    });
    let random: [u8; 8] = random_bytes()?;
    Ok(format!(
        "{prefix}{next:016x}{:016x}",
        u64::from_be_bytes(random)
    ))
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
    fn ordered_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000)
            .map(|_| ordered_id("aud_", 1_800_000_000).unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ordered_id("aud_", 1_800_000_001).unwrap() > ids[999]);
        assert_eq!(ids[0].len(), "aud_".len() + 32);
    }

    #[test]
    fn generated_values_carry_their_prefix_and_are_unique() {
        let a = generate(Kind::AppSecret).unwrap();
        let b = generate(Kind::AppSecret).unwrap();
        assert!(a.starts_with("gr_sec_"));
        assert!(has_shape(&a, Kind::AppSecret));
        assert!(!has_shape(&a, Kind::ApiToken));
        assert!(!has_shape(&format!("{a}x"), Kind::AppSecret));
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
