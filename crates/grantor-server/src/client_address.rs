//! The address a request comes from, for throttling sign-in attempts and for the audit log. Behind a load balancer
//! every connection comes from the balancer, so `X-Forwarded-For` is believed, but only when
//! the connection comes from a configured trusted proxy: anyone else could write the header.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

pub struct ClientAddress(pub IpAddr);

/// Walks `X-Forwarded-For` from the nearest hop back, past trusted proxies, to the first
/// address that is not one.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

impl ClientAddress {
    pub fn of(parts: &Parts, state: &AppState) -> IpAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        client_ip(peer, &forwarded, &state.trusted_proxies)
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(Self::of(parts, state)))
    }
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let lb = ip("10.0.0.1");
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["198.51.100.1"], &[lb]),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(lb, &["198.51.100.1"], &[lb]), ip("198.51.100.1"));
        // A client-written first hop cannot hide the address the proxy saw.
        assert_eq!(
            client_ip(lb, &["1.2.3.4, 198.51.100.1"], &[lb]),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(lb, &["garbage"], &[lb]), lb);
    }
}
