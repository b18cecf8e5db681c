//! Request parameters as the protocol sees them (RFC 6749 3.1, 3.2): a list of name/value
//! pairs where an empty value counts as absent and, except for `resource` (RFC 8707), a
//! parameter may appear only once.
//!
//! Every query string and form body an outsider sends passes through [`decode`], which bounds
//! its size and its number of parameters before decoding anything, and every check after it
//! is linear: a request costs the server time in proportion to its size, never more.

use crate::OAuthError;
use std::collections::HashSet;
use std::fmt;

/// Largest query string accepted (an authorization request is usually under 2 KiB; the
/// sign-in page's `return_to` carries one again, encoded once more).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Largest form body accepted: the approval and sign-in forms carry the authorization
/// request again.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Most parameters accepted in one query or form.
pub const MAX_PARAMS: usize = 100;

/// Input refused before it was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// More than `limit` bytes.
    TooLarge { limit: usize },
    /// More than `limit` parameters.
    TooMany { limit: usize },
    /// A parameter that may appear once appeared again.
    Repeated(String),
    /// The body could not be read (the client went away or sent it too slowly).
    Unreadable,
    /// A NUL character, which no parameter has a use for (and PostgreSQL refuses in text).
    Nul(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "the request is larger than {limit} bytes"),
            Self::TooMany { limit } => {
                write!(f, "the request has more than {limit} parameters")
            }
            Self::Repeated(name) => write!(f, "the {name} parameter appears more than once"),
            Self::Unreadable => f.write_str("the request body could not be read"),
            Self::Nul(name) => write!(f, "the {name} parameter contains a NUL character"),
        }
    }
}

impl std::error::Error for InputError {}

impl From<InputError> for OAuthError {
    fn from(e: InputError) -> Self {
        OAuthError::invalid_request(e.to_string())
    }
}

/// Decodes `application/x-www-form-urlencoded` input of at most `max_bytes` bytes and
/// [`MAX_PARAMS`] parameters; both are checked before any decoding.
pub fn decode(raw: &[u8], max_bytes: usize) -> Result<Vec<(String, String)>, InputError> {
    if raw.len() > max_bytes {
        return Err(InputError::TooLarge { limit: max_bytes });
    }
    let count = raw.split(|b| *b == b'&').filter(|p| !p.is_empty()).count();
    if count > MAX_PARAMS {
        return Err(InputError::TooMany { limit: MAX_PARAMS });
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    if let Some((name, _)) = pairs
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(InputError::Nul(name.replace('\0', "\\0")));
    }
    Ok(pairs)
}

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

/// Parameters that may legitimately repeat.
const REPEATABLE: [&str; 1] = ["resource"];

impl Params {
    /// Wraps decoded pairs, refusing a repeated parameter (in one pass over a hash set).
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, InputError> {
        let mut seen = HashSet::with_capacity(pairs.len());
        for (name, value) in &pairs {
            if value.is_empty() || REPEATABLE.contains(&name.as_str()) {
                continue;
            }
            if !seen.insert(name.as_str()) {
                return Err(InputError::Repeated(name.clone()));
            }
        }
        Ok(Self(pairs))
    }

    /// Decodes and checks protocol input (see [`decode`]).
    pub fn parse(raw: &[u8], max_bytes: usize) -> Result<Self, InputError> {
        Self::new(decode(raw, max_bytes)?)
    }

    /// Decodes a page's form or query, where a name may repeat (the approval form's scope
    /// checkboxes); [`Params::get`] answers the first value.
    pub fn parse_lenient(raw: &[u8], max_bytes: usize) -> Result<Self, InputError> {
        Ok(Self(decode(raw, max_bytes)?))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is required")))
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in the order received.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<Params, InputError> {
        Params::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn refuses_repeats_but_not_resource() {
        assert_eq!(
            p(&[("scope", "a"), ("scope", "b")]).unwrap_err(),
            InputError::Repeated("scope".into())
        );
        let ok = p(&[
            ("resource", "https://a"),
            ("resource", "https://b"),
            ("state", ""),
            ("state", "s"),
        ])
        .unwrap();
        assert_eq!(ok.all("resource").count(), 2);
        assert_eq!(ok.get("state"), Some("s"));
    }

    #[test]
    fn size_and_count_are_bounded_before_decoding() {
        let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert_eq!(
            Params::parse(many.as_bytes(), MAX_FORM_BYTES).unwrap_err(),
            InputError::TooMany { limit: MAX_PARAMS }
        );
        let exactly = (0..MAX_PARAMS)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(Params::parse(exactly.as_bytes(), MAX_FORM_BYTES).is_ok());
        assert_eq!(
            Params::parse(&[b'a'; 101], 100).unwrap_err(),
            InputError::TooLarge { limit: 100 }
        );
        // Empty pieces (`&&&`) are not parameters.
        assert!(Params::parse(&[b'&'; 1000], MAX_FORM_BYTES).is_ok());
        let lenient = Params::parse_lenient(b"scope=a&scope=b", 100).unwrap();
        assert_eq!(lenient.all("scope").collect::<Vec<_>>(), ["a", "b"]);
    }
}
