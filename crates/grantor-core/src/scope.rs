//! Scopes (RFC 6749 3.3): validated tokens in a set, written space-separated.

use std::collections::BTreeSet;
use std::fmt;

/// Built-in OpenID Connect scopes; every other scope belongs to a resource server or to
/// Grantor's own management API.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Grantor's own management scopes: the scopes of its management API (`{issuer}/api/v1`),
/// held by admin clients and by users' API tokens.
pub const MANAGEMENT_SCOPES: [&str; 6] = [
    "grantor:orgs",
    "grantor:apps",
    "grantor:members",
    "grantor:resources",
    "grantor:audit",
    "grantor:api-tokens",
];

/// Management scopes start with this; the prefix is reserved (no resource server may use it).
pub const MANAGEMENT_PREFIX: &str = "grantor:";

pub fn is_oidc(scope: &str) -> bool {
    OIDC_SCOPES.contains(&scope)
}

/// A scope of Grantor's own management API: held only by server apps, granted only by an
/// owner, and never offered on a user's approval page.
pub fn is_management(scope: &str) -> bool {
    scope.starts_with(MANAGEMENT_PREFIX)
}

pub fn is_builtin(scope: &str) -> bool {
    is_oidc(scope) || MANAGEMENT_SCOPES.contains(&scope)
}

/// What a built-in scope lets an app (or an API token) do, in the words pages show.
pub fn describe_builtin(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Sign you in with your Grantor account",
        "profile" => "See your name",
        "email" => "See your email address",
        "offline_access" => "Keep access while you are away",
        "grantor:orgs" => "Create and list organizations (platform admins)",
        "grantor:apps" => "See and manage OAuth apps, as your role allows",
        "grantor:members" => "See and manage members",
        "grantor:resources" => "Manage resource servers",
        "grantor:audit" => "Read the audit log",
        "grantor:api-tokens" => "Manage your own API tokens",
        _ => return None,
    })
}

/// Whether `s` is a valid scope token: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// An ordered, duplicate-free set of valid scope tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-separated scope string; returns the first invalid token on failure.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !is_valid_token(token) {
                return Err(token.to_string());
            }
            set.insert(token.to_string());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Whether any scope is one of Grantor's management scopes.
    pub fn has_management(&self) -> bool {
        self.iter().any(is_management)
    }
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }
    /// Scopes in `self` that are not in `other`, space-separated, for error messages.
    pub fn missing_from<'a>(&'a self, other: &'a ScopeSet) -> Vec<&'a str> {
        self.0.difference(&other.0).map(String::as_str).collect()
    }
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }
    pub fn retain(&mut self, keep: impl FnMut(&String) -> bool) {
        self.0.retain(keep);
    }
    pub fn insert(&mut self, scope: impl Into<String>) {
        self.0.insert(scope.into());
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(items: I) -> Self {
        Self(items.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s = ScopeSet::parse("trades:write  trades:read trades:read").unwrap();
        assert_eq!(s.to_string(), "trades:read trades:write");
        assert_eq!(ScopeSet::parse("a \"b").unwrap_err(), "\"b");
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn reports_what_is_missing() {
        let asked = ScopeSet::parse("a b c").unwrap();
        let granted = ScopeSet::parse("a").unwrap();
        assert_eq!(asked.missing_from(&granted), vec!["b", "c"]);
    }
}
