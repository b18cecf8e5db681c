//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a leaked code.

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A code challenge or verifier: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub fn is_valid(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// A fresh verifier: 32 random bytes, base64url (43 characters).
pub fn new_verifier() -> Result<String, crate::CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(crate::secret::random_bytes::<32>()?))
}

/// Whether `verifier` hashes to `challenge` under S256.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if !is_valid(verifier) {
        return false;
    }
    constant_time::verify_slices_are_equal(
        self::challenge(verifier).as_bytes(),
        challenge.as_bytes(),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(super::verify(verifier, challenge));
        assert!(!super::verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
        assert!(!super::verify("short", challenge));
    }
}
