//! Fetching `private_key_jwt` apps' keys from their `jwks_uri`: an app owner names the URL,
//! so the request is an SSRF risk and is fenced in: https only (http on loopback only when
//! the issuer is itself loopback), no redirects, a short timeout, a size cap, and every
//! address a name resolves to must be public (checked at connect time, in the resolver, so
//! a name cannot resolve to a public address when checked and a private one when used).

use grantor_core::app_keys::{self, JwksFetcher, MAX_JWKS_BYTES};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// The whole fetch, connection included, must finish within this.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

pub struct HttpJwksFetcher {
    client: reqwest::Client,
    allow_loopback: bool,
}

/// Resolves names with the system resolver, then keeps only the addresses an app's keys may
/// be fetched from.
struct PublicOnly {
    allow_loopback: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found
                .filter(|a| app_keys::is_public(a.ip()) || (allow_loopback && a.ip().is_loopback()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl HttpJwksFetcher {
    /// A fetcher for an installation whose issuer is `issuer`.
    pub fn new(issuer: &str) -> Result<Self, String> {
        let allow_loopback = app_keys::loopback_allowed(issuer);
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(PublicOnly { allow_loopback }))
            .user_agent("grantor (private_key_jwt keys)")
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Self {
            client,
            allow_loopback,
        })
    }

    async fn get(&self, uri: &str) -> Result<String, String> {
        // The URL was checked at registration; check again (rules may have tightened, and
        // an address literal never reaches the resolver).
        let url = app_keys::check_jwks_uri(uri, self.allow_loopback)?;
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("the document is too large".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("the document is too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "the document is not UTF-8".into())
    }
}

impl JwksFetcher for HttpJwksFetcher {
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(self.get(uri))
    }
}
