//! The public keys of `private_key_jwt` apps (RFC 7523, OIDC Core 9): checking a JWKS
//! document at registration, the `jwks_uri` rule, and the cache of keys fetched from such
//! URLs. The fetching itself (HTTP) is the server's, behind [`JwksFetcher`].

use crate::jose::{Alg, Jwk, VerifyingKey};
use lru::LruCache;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A JWKS document, registered or fetched, is refused past this many bytes: a few RSA keys
/// take about 2 KiB.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
/// Keys in one app's set: enough for a rotation with overlap, and a bound on what one
/// assertion can make the server try.
pub const MAX_KEYS: usize = 10;
/// The longest `jwks_uri` accepted.
pub const MAX_JWKS_URI: usize = 2048;
/// Fetched keys are used this long before they are fetched again.
pub const JWKS_FRESH_FOR: i64 = 300;
/// An assertion naming an unknown `kid` refetches the app's keys, but at most this often per
/// URL: an attacker's made-up `kid`s cannot make the server a fetching loop.
pub const JWKS_REFETCH_AFTER: i64 = 30;
/// URLs whose keys are remembered; past that the least recently used is forgotten.
const MAX_CACHED_URIS: NonZeroUsize = NonZeroUsize::MIN.saturating_add(999);

/// JWK members that only a private (or symmetric) key has: such a key is never registered.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The algorithm a key signs with: its own `alg`, or the one its type implies.
fn alg_of(jwk: &Jwk) -> Result<Alg, String> {
    if !jwk.alg.is_empty() {
        return jwk
            .alg
            .parse()
            .map_err(|_| format!("key alg {:?} is not accepted: use ES256 or RS256", jwk.alg));
    }
    match jwk.kty.as_str() {
        "EC" => Ok(Alg::ES256),
        "RSA" => Ok(Alg::RS256),
        other => Err(format!(
            "key type {other:?} is not accepted: use EC (P-256) or RSA"
        )),
    }
}

/// Checks a JWKS document (RFC 7517 5) and returns its keys: JSON with a `keys` array of 1 to
/// [`MAX_KEYS`] public EC P-256 or RSA signing keys, no private members, each with a `kid`
/// (unique) when there are several. Every message names what is wrong, for the one who
/// registers the keys.
pub fn parse_jwks(doc: &str) -> Result<Vec<Jwk>, String> {
    if doc.len() > MAX_JWKS_BYTES {
        return Err(format!(
            "the JWKS document is larger than {MAX_JWKS_BYTES} bytes"
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(doc).map_err(|_| "the JWKS document is not valid JSON".to_string())?;
    let Some(keys) = value.get("keys").and_then(|k| k.as_array()) else {
        return Err(r#"a JWKS document is an object with a "keys" array"#.into());
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("a JWKS document holds 1 to {MAX_KEYS} keys"));
    }
    let mut parsed = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(format!(
                "a key has the private member {member:?}: register only public keys"
            ));
        }
        let jwk: Jwk = serde_json::from_value(key.clone())
            .map_err(|_| "a key is not a valid JWK".to_string())?;
        if !jwk.use_.is_empty() && jwk.use_ != "sig" {
            return Err(format!(
                "key {:?} has use {:?}: client assertions need signing keys (use sig)",
                jwk.kid, jwk.use_
            ));
        }
        if jwk.kty == "EC" && jwk.crv.as_deref() != Some("P-256") {
            return Err("EC keys must be on the P-256 curve (ES256)".into());
        }
        VerifyingKey::for_alg(&jwk, alg_of(&jwk)?)
            .map_err(|_| format!("key {:?} is not a valid public key", jwk.kid))?;
        parsed.push(jwk);
    }
    if parsed.len() > 1 {
        let mut kids: Vec<&str> = parsed.iter().map(|k| k.kid.as_str()).collect();
        if kids.contains(&"") {
            return Err("with several keys, each needs a kid".into());
        }
        kids.sort_unstable();
        kids.dedup();
        if kids.len() != parsed.len() {
            return Err("two keys have the same kid".into());
        }
    }
    Ok(parsed)
}

/// The key an assertion's header names: by `kid`, or the only key when the header names none.
pub fn select<'k>(keys: &'k [Jwk], kid: Option<&str>) -> Option<&'k Jwk> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid == kid),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}

/// A verifying key for the assertion's algorithm from the chosen JWK.
pub fn verifying_key(jwk: &Jwk, header_alg: &str) -> Option<VerifyingKey> {
    let alg: Alg = header_alg.parse().ok()?;
    VerifyingKey::for_alg(jwk, alg).ok()
}

/// Checks a `jwks_uri`: an absolute https URL without credentials or fragment, or http on a
/// loopback address when `allow_loopback` (the issuer itself is on loopback: development
/// and tests). Names and addresses are checked again, after resolution, when fetched.
pub fn check_jwks_uri(uri: &str, allow_loopback: bool) -> Result<url::Url, String> {
    if uri.len() > MAX_JWKS_URI {
        return Err(format!("a jwks_uri is at most {MAX_JWKS_URI} characters"));
    }
    let parsed = url::Url::parse(uri).map_err(|_| "the jwks_uri is not an absolute URL")?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the jwks_uri must not carry credentials".into());
    }
    if parsed.fragment().is_some() {
        return Err("the jwks_uri must not have a fragment".into());
    }
    let host = parsed.host();
    let loopback = match &host {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => *d == "localhost",
        None => return Err("the jwks_uri has no host".into()),
    };
    if loopback && !allow_loopback {
        return Err("the jwks_uri must not point at this machine (loopback)".into());
    }
    let literal_ok = match host {
        Some(url::Host::Ipv4(ip)) => loopback || is_public(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => loopback || is_public(std::net::IpAddr::V6(ip)),
        _ => true,
    };
    if !literal_ok {
        return Err("the jwks_uri must not point at a private or link-local address".into());
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err("the jwks_uri must use https".into()),
    }
}

/// Whether apps' key URLs may be on loopback: only when the issuer itself is (development
/// and tests), where nothing else can be reached that way.
pub fn loopback_allowed(issuer: &str) -> bool {
    url::Url::parse(issuer).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    })
}

/// Whether an address is one an app's keys may be fetched from: not private, link-local,
/// loopback, unspecified, multicast or otherwise reserved (SSRF: an app owner must not make
/// the server reach its own network).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                // Carrier-grade NAT (100.64.0.0/10) and 198.18.0.0/15 (benchmarking).
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Fetches the JWKS document at a URL (the server's HTTP client: timeout, size cap, no
/// redirects, no private addresses).
pub trait JwksFetcher: Send + Sync {
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

struct Fetched {
    keys: Arc<Vec<Jwk>>,
    at: i64,
}

/// Keys fetched from apps' `jwks_uri`s, by URL, each node its own (keys are public and short
/// lived here: a change at the URL is seen within [`JWKS_FRESH_FOR`], or at once for a new
/// `kid`).
pub struct RemoteKeys {
    fetcher: Option<Arc<dyn JwksFetcher>>,
    cache: Mutex<LruCache<String, Arc<Fetched>>>,
}

impl Default for RemoteKeys {
    /// No fetcher: apps with a `jwks_uri` cannot authenticate (unit tests).
    fn default() -> Self {
        Self::new(None)
    }
}

impl RemoteKeys {
    pub fn new(fetcher: Option<Arc<dyn JwksFetcher>>) -> Self {
        Self {
            fetcher,
            cache: Mutex::new(LruCache::new(MAX_CACHED_URIS)),
        }
    }

    fn cached(&self, uri: &str) -> Option<Arc<Fetched>> {
        self.cache.lock().ok()?.get(uri).cloned()
    }

    /// The keys at `uri` as of `now`, fetched when none are cached, when the cached ones are
    /// older than [`JWKS_FRESH_FOR`], or when they lack `kid` and were fetched more than
    /// [`JWKS_REFETCH_AFTER`] ago. A failed fetch keeps using keys fetched before, and is not
    /// tried again sooner than a successful one would be.
    pub async fn keys(
        &self,
        uri: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Result<Arc<Vec<Jwk>>, String> {
        let cached = self.cached(uri);
        if let Some(c) = &cached {
            let age = now - c.at;
            let knows_kid = select(&c.keys, kid).is_some();
            if (age < JWKS_FRESH_FOR && knows_kid) || age < JWKS_REFETCH_AFTER {
                if c.keys.is_empty() {
                    return Err("the last fetch failed; it is tried again after 30 seconds".into());
                }
                return Ok(c.keys.clone());
            }
        }
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| "this server does not fetch keys".to_string())?;
        let result = fetcher.fetch(uri).await.and_then(|doc| parse_jwks(&doc));
        // A failure is remembered too (with the keys fetched before, or none), so a URL that
        // is down is not fetched again for every assertion that names it.
        let (keys, outcome) = match result {
            Ok(keys) => (Arc::new(keys), Ok(())),
            Err(e) => (cached.map(|c| c.keys.clone()).unwrap_or_default(), Err(e)),
        };
        if let Ok(mut cache) = self.cache.lock() {
            let fetched = Fetched {
                keys: keys.clone(),
                at: now,
            };
            cache.put(uri.to_string(), Arc::new(fetched));
        }
        match outcome {
            Err(e) if keys.is_empty() => Err(e),
            _ => Ok(keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn public_keys_are_accepted_and_private_ones_refused() {
        let keys = parse_jwks(&format!(r#"{{"keys":[{EC}]}}"#)).unwrap();
        assert_eq!(keys.len(), 1);
        let private = EC.replace(
            '}',
            r#","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
        );
        let err = parse_jwks(&format!(r#"{{"keys":[{private}]}}"#)).unwrap_err();
        assert!(err.contains("private"), "{err}");
        let symmetric = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        assert!(parse_jwks(symmetric).is_err());
    }

    #[test]
    fn sets_are_bounded_and_kids_unique() {
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
        let eleven = [EC; 11].join(",");
        assert!(parse_jwks(&format!(r#"{{"keys":[{eleven}]}}"#)).is_err());
        let twice = format!(r#"{{"keys":[{EC},{EC}]}}"#);
        assert!(parse_jwks(&twice).unwrap_err().contains("same kid"));
        let huge = format!(
            r#"{{"keys":[{EC}],"pad":"{}"}}"#,
            "x".repeat(MAX_JWKS_BYTES)
        );
        assert!(parse_jwks(&huge).unwrap_err().contains("larger"));
        assert!(parse_jwks("not json").is_err());
    }

    #[test]
    fn jwks_uri_is_https_and_public_unless_loopback_is_allowed() {
        assert!(check_jwks_uri("https://keys.example.com/jwks", false).is_ok());
        assert!(check_jwks_uri("http://keys.example.com/jwks", false).is_err());
        assert!(check_jwks_uri("http://127.0.0.1:8080/jwks", false).is_err());
        assert!(check_jwks_uri("http://127.0.0.1:8080/jwks", true).is_ok());
        assert!(check_jwks_uri("https://10.0.0.1/jwks", true).is_err());
        assert!(check_jwks_uri("https://169.254.169.254/latest", true).is_err());
        assert!(check_jwks_uri("https://[fd00::1]/jwks", true).is_err());
        assert!(check_jwks_uri("https://user:pw@keys.example.com/", false).is_err());
        assert!(!is_public("::ffff:192.168.1.1".parse().unwrap()));
        assert!(is_public("8.8.8.8".parse().unwrap()));
    }

    struct Fake {
        doc: Mutex<Result<String, String>>,
        fetches: Mutex<usize>,
    }

    impl JwksFetcher for Fake {
        fn fetch<'a>(
            &'a self,
            _uri: &'a str,
        ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
            if let Ok(mut n) = self.fetches.lock() {
                *n += 1;
            }
            let doc = self
                .doc
                .lock()
                .map(|d| d.clone())
                .unwrap_or(Err("lock".into()));
            Box::pin(async move { doc })
        }
    }

    #[tokio::test]
    async fn fetched_keys_are_cached_and_failures_do_not_fetch_in_a_loop() {
        let fake = Arc::new(Fake {
            doc: Mutex::new(Err("down".into())),
            fetches: Mutex::new(0),
        });
        let remote = RemoteKeys::new(Some(fake.clone()));
        let fetches = || *fake.fetches.lock().unwrap();
        let uri = "https://keys.example.com/jwks";
        assert!(remote.keys(uri, Some("k1"), 1000).await.is_err());
        assert!(remote.keys(uri, Some("k1"), 1010).await.is_err());
        assert_eq!(fetches(), 1, "a failure is remembered");
        *fake.doc.lock().unwrap() = Ok(format!(r#"{{"keys":[{EC}]}}"#));
        assert_eq!(remote.keys(uri, Some("k1"), 1031).await.unwrap().len(), 1);
        assert_eq!(remote.keys(uri, Some("k1"), 1100).await.unwrap().len(), 1);
        assert_eq!(remote.keys(uri, Some("zz"), 1050).await.unwrap().len(), 1);
        assert_eq!(fetches(), 2, "fresh, and an unknown kid waits 30 seconds");
        *fake.doc.lock().unwrap() = Err("down again".into());
        let kept = remote
            .keys(uri, Some("k1"), 1031 + JWKS_FRESH_FOR)
            .await
            .unwrap();
        assert_eq!(
            (kept.len(), fetches()),
            (1, 3),
            "old keys kept while the URL is down"
        );
    }

    #[test]
    fn a_header_without_kid_picks_only_a_lone_key() {
        let one = parse_jwks(&format!(r#"{{"keys":[{EC}]}}"#)).unwrap();
        assert!(select(&one, None).is_some());
        assert!(select(&one, Some("k1")).is_some());
        assert!(select(&one, Some("other")).is_none());
    }
}
