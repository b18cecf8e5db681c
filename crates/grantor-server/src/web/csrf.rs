//! CSRF tokens: an HMAC of what the form is bound to (the session, or before sign-in a
//! random browser cookie), under a key every node derives from the key-encryption key.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn token(key: &hmac::Key, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(key, binding.as_bytes()))
}

/// Constant-time check of a submitted token.
pub fn verify(key: &hmac::Key, binding: &str, submitted: Option<&str>) -> bool {
    let Some(bytes) = submitted.and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()) else {
        return false;
    };
    !binding.is_empty() && hmac::verify(key, binding.as_bytes(), &bytes).is_ok()
}
