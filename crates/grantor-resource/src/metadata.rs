//! Protected-resource metadata (RFC 9728): how a client that meets this API learns which
//! authorization server issues its tokens and which scopes it knows, with no setup.

use crate::validator::Config;
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use std::sync::Arc;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Where a resource identifier's metadata lives (RFC 9728 section 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The well-known URL, named in every challenge.
    pub url: String,
    /// Its path, where this API serves the document.
    pub path: String,
}

/// The metadata URL of a request's API, put there by [`crate::RequireToken`] so that every
/// refusal behind it can name it.
#[derive(Debug, Clone)]
pub(crate) struct MetadataUrl(pub Arc<str>);

/// The well-known location of `identifier`'s metadata: `/.well-known/oauth-protected-resource`
/// inserted between the host and the path (and query), the path's terminating slash removed.
///
/// `None` unless the identifier is an http(s) URL without a fragment, written in RFC 3986's
/// characters (so the URL needs no escaping in a header), whose path is one axum can route
/// (no segment starting with `:` or `*`).
pub(crate) fn location(identifier: &str) -> Option<Location> {
    let (scheme, rest) = identifier.split_once("://")?;
    let uri_chars = identifier
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:/?[]@!$&'()*+,;=%".contains(c));
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) || !uri_chars
    {
        return None;
    }
    let (authority, suffix) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (path, query) = suffix.split_at(suffix.find('?').unwrap_or(suffix.len()));
    // "https://api.example.com/" and "https://api.example.com" name the same place; so, for
    // clients that drop it as the MCP SDK does, do "/v1/" and "/v1".
    let path = path.strip_suffix('/').unwrap_or(path);
    if authority.is_empty()
        || path
            .split('/')
            .any(|segment| segment.starts_with([':', '*']))
    {
        return None;
    }
    Some(Location {
        url: format!("{scheme}://{authority}{WELL_KNOWN}{path}{query}"),
        path: format!("{WELL_KNOWN}{path}"),
    })
}

/// The metadata document (RFC 9728 section 2), built once.
fn document(config: &Config) -> Bytes {
    let mut doc = serde_json::json!({
        "resource": config.audience,
        "authorization_servers": [config.issuer],
        "bearer_methods_supported": ["header"],
    });
    if !config.scopes.is_empty() {
        doc["scopes_supported"] = serde_json::json!(config.scopes);
    }
    if let Some(name) = &config.resource_name {
        doc["resource_name"] = serde_json::json!(name);
    }
    Bytes::from(doc.to_string())
}

/// A router serving the document at `location`'s path.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    config: &Config,
    location: &Location,
) -> Router<S> {
    let body = document(config);
    Router::new().route(
        &location.path,
        get(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, "public, max-age=300"),
                    ],
                    body,
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(identifier: &str) -> Option<String> {
        location(identifier).map(|l| l.url)
    }

    #[test]
    fn the_well_known_segment_goes_between_the_host_and_the_path() {
        let cases = [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/v1/orders",
                "https://api.example.com/.well-known/oauth-protected-resource/v1/orders",
            ),
            (
                "https://api.example.com/v1/",
                "https://api.example.com/.well-known/oauth-protected-resource/v1",
            ),
            (
                "http://127.0.0.1:3000/trading",
                "http://127.0.0.1:3000/.well-known/oauth-protected-resource/trading",
            ),
            (
                "https://api.example.com:8443",
                "https://api.example.com:8443/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/v1?tenant=a",
                "https://api.example.com/.well-known/oauth-protected-resource/v1?tenant=a",
            ),
        ];
        for (identifier, expected) in cases {
            assert_eq!(url(identifier).as_deref(), Some(expected), "{identifier}");
        }
        let served = location("https://api.example.com/v1/?tenant=a").unwrap();
        assert_eq!(served.path, "/.well-known/oauth-protected-resource/v1");
        assert_eq!(
            location("https://api.example.com").unwrap().path,
            "/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn identifiers_that_are_not_plain_http_urls_have_no_metadata_url() {
        for identifier in [
            "urn:example:trading",
            "ftp://files.example.com",
            "https://",
            "https:///path",
            "https://api.example.com/a\"b",
            "https://api.example.com/a\\b",
            "https://api.example.com/a b",
            "https://api.example.com/#top",
            "https://api.example.com/{id}",
            "https://api.example.com/:id",
            "https://api.example.com/v1/*rest",
            "https://bücher.example",
        ] {
            assert_eq!(url(identifier), None, "{identifier}");
        }
    }

    #[test]
    fn the_document_names_the_resource_its_issuer_and_scopes() {
        let config = Config::new("https://grantor.example.com/", "https://api.example.com");
        let doc: serde_json::Value = serde_json::from_slice(&document(&config)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://grantor.example.com"],
                "bearer_methods_supported": ["header"],
            })
        );
        let config = config
            .with_scopes(&["trades:read", "trades:write"])
            .with_resource_name("Trading");
        let doc: serde_json::Value = serde_json::from_slice(&document(&config)).unwrap();
        assert_eq!(
            doc["scopes_supported"],
            serde_json::json!(["trades:read", "trades:write"])
        );
        assert_eq!(doc["resource_name"], "Trading");
    }
}
