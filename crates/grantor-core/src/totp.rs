//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, six digits, 30-second
//! steps, one step either side accepted for clocks that drift. The algorithm only; the
//! account's secret, its replay memory and its throttle live with `Manager`.

use crate::CryptoError;
use crate::secret;
use aws_lc_rs::{constant_time, hmac};

/// Seconds per step.
pub const STEP: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Secret length: 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at enrolment (and each regeneration).
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The HOTP value of `secret` at `counter` with `digits` digits (RFC 4226 5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // SHA-1 is what every authenticator app computes; as an HMAC it is not broken.
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]))
        .unwrap_or(0);
    word % 10_u32.pow(digits)
}

/// The step `now` falls in.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP)
}

/// The six-digit code of `secret` at `step`, zero-padded, as an app shows it.
pub fn code(secret: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!("{:06}", hotp(secret, counter, DIGITS))
}

/// The step whose code `given` is, among the one of `now` and its neighbours, if it is later
/// than `last_used` (a code already accepted, or an older one, is never taken again).
/// Spaces are ignored, as apps show codes in groups.
pub fn verify(secret: &[u8], given: &str, now: i64, last_used: i64) -> Option<i64> {
    let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    // Every candidate is computed, so the time taken says nothing about which one matched.
    let mut found = None;
    for step in current - 1..=current + 1 {
        let same =
            constant_time::verify_slices_are_equal(code(secret, step).as_bytes(), given.as_bytes())
                .is_ok();
        if same && step > last_used && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of base32 `text` (any case, spaces and padding ignored); `None` if it is not
/// base32.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let upper = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&b| char::from(b) == upper)?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// A fresh secret from the OS RNG.
pub fn new_secret() -> Result<[u8; SECRET_BYTES], CryptoError> {
    secret::random_bytes()
}

/// The `otpauth://` URI authenticator apps read from the QR code: `issuer` names the service
/// (the issuer's host), `account` the person.
pub fn uri(secret: &[u8], issuer: &str, account: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let (i, a) = (
        utf8_percent_encode(issuer, NON_ALPHANUMERIC),
        utf8_percent_encode(account, NON_ALPHANUMERIC),
    );
    format!(
        "otpauth://totp/{i}:{a}?secret={}&issuer={i}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        base32(secret)
    )
}

/// Ten fresh recovery codes: 80 random bits each, as four groups of four base32 characters
/// (`abcd-efgh-ijkl-mnop`), enough that a fast hash of them is safe to store.
pub fn new_recovery_codes() -> Result<Vec<String>, CryptoError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 10] = secret::random_bytes()?;
            let text = base32(&bytes).to_ascii_lowercase();
            let groups: Vec<&str> = (0..4).filter_map(|i| text.get(i * 4..i * 4 + 4)).collect();
            Ok(groups.join("-"))
        })
        .collect()
}

/// A recovery code as typed, in the form it was made in: lowercase, dashes where they go,
/// so `ABCD EFGH IJKL MNOP` finds `abcd-efgh-ijkl-mnop`. `None` if it cannot be one.
pub fn normalize_recovery_code(given: &str) -> Option<String> {
    let plain: String = given
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if plain.len() != 16 {
        return None;
    }
    let groups: Vec<&str> = (0..4).filter_map(|i| plain.get(i * 4..i * 4 + 4)).collect();
    Some(groups.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, the SHA-1 column (eight digits).
        for (time, expected) in [
            (59_u64, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(RFC_SECRET, time / 30, 8), expected, "at {time}");
        }
        // And six digits are the last six of those.
        assert_eq!(code(RFC_SECRET, step_at(59)), "287082");
        assert_eq!(code(RFC_SECRET, step_at(1_111_111_109)), "081804");
    }

    #[test]
    fn rfc_4226_hotp_test_vectors() {
        let expected = [755_224, 287_082, 359_152, 969_429, 338_314];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64, 6), want);
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_and_no_further() {
        let now = 1_800_000_015;
        let here = step_at(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let given = code(RFC_SECRET, here + offset);
            assert_eq!(
                verify(RFC_SECRET, &given, now, 0),
                accepted.then_some(here + offset),
                "offset {offset}"
            );
        }
        let spaced = code(RFC_SECRET, here);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert_eq!(verify(RFC_SECRET, &spaced, now, 0), Some(here));
        for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"] {
            assert_eq!(verify(RFC_SECRET, bad, now, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn a_used_step_and_older_ones_are_refused() {
        let now = 1_800_000_015;
        let here = step_at(now);
        let given = code(RFC_SECRET, here);
        assert_eq!(verify(RFC_SECRET, &given, now, here - 1), Some(here));
        assert_eq!(verify(RFC_SECRET, &given, now, here), None, "replayed");
        let previous = code(RFC_SECRET, here - 1);
        assert_eq!(verify(RFC_SECRET, &previous, now, here), None, "older");
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(
            from_base32("mzxw 6ytb oi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(from_base32("not base32!"), None);
        let secret = [7_u8; SECRET_BYTES];
        assert_eq!(from_base32(&base32(&secret)).as_deref(), Some(&secret[..]));
    }

    #[test]
    fn the_uri_names_the_service_and_the_person() {
        let uri = uri(RFC_SECRET, "grantor.test", "a+b@acme.test");
        assert_eq!(
            uri,
            "otpauth://totp/grantor%2Etest:a%2Bb%40acme%2Etest?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=grantor%2Etest&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalized_as_typed() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 19);
            assert_eq!(
                normalize_recovery_code(&c.to_uppercase().replace('-', " ")).as_ref(),
                Some(c)
            );
        }
        assert_eq!(normalize_recovery_code("short"), None);
    }
}
