//! Request parameters as the protocol sees them (RFC 6749 3.1, 3.2): a list of name/value
//! pairs where an empty value counts as absent and, except for `resource` (RFC 8707), a
//! parameter may appear only once.

use crate::OAuthError;

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

/// Parameters that may legitimately repeat.
const REPEATABLE: [&str; 1] = ["resource"];

impl Params {
    /// Wraps decoded pairs, refusing a repeated parameter.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        for (i, (name, value)) in pairs.iter().enumerate() {
            if value.is_empty() || REPEATABLE.contains(&name.as_str()) {
                continue;
            }
            if pairs[..i].iter().any(|(n, v)| n == name && !v.is_empty()) {
                return Err(OAuthError::invalid_request(format!(
                    "the {name} parameter appears more than once"
                )));
            }
        }
        Ok(Self(pairs))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<Params, OAuthError> {
        Params::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn refuses_repeats_but_not_resource() {
        assert!(p(&[("scope", "a"), ("scope", "b")]).is_err());
        let ok = p(&[
            ("resource", "https://a"),
            ("resource", "https://b"),
            ("state", ""),
        ])
        .unwrap();
        assert_eq!(ok.all("resource").count(), 2);
        assert_eq!(ok.get("state"), None);
    }
}
