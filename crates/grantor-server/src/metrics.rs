//! Prometheus metrics kept by hand: request counts, token issuance by grant and outcome, and a
//! latency histogram. One short lock per request and no allocation once a route has been
//! seen: cheaper than a metrics framework on the token endpoint's hot path.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<HashMap<String, RouteStats>>,
    tokens: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn record_request(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = lock(&self.routes);
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_string()).or_default(),
        };
        *stats.by_status.entry(status).or_default() += 1;
        stats.count += 1;
        stats.sum += seconds;
        for (count, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
    }

    /// `grant` and `outcome` come from fixed sets (grant names, error codes), keeping the
    /// label space bounded whatever clients send.
    pub fn record_token(&self, grant: &'static str, outcome: &'static str) {
        *lock(&self.tokens).entry((grant, outcome)).or_default() += 1;
    }

    /// The metrics text; `cached_clients` is the store's count of cached apps and of unknown
    /// app IDs remembered as such, `revocations` how many revocations this node holds.
    pub fn render(&self, cached_clients: (usize, usize), revocations: usize) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP grantor_client_cache_entries Apps, and unknown app IDs, cached on this node.\n",
        );
        out.push_str("# TYPE grantor_client_cache_entries gauge\n");
        let _ = writeln!(
            out,
            "grantor_client_cache_entries{{kind=\"app\"}} {}\ngrantor_client_cache_entries{{kind=\"unknown\"}} {}",
            cached_clients.0, cached_clients.1
        );
        out.push_str(
            "# HELP grantor_revocations_held Revoked tokens, grants and API tokens this node holds in memory.\n# TYPE grantor_revocations_held gauge\n",
        );
        let _ = writeln!(out, "grantor_revocations_held {revocations}");
        let routes = lock(&self.routes);
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        out.push_str("# HELP grantor_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE grantor_http_requests_total counter\n");
        for route in &names {
            for (status, n) in &routes[*route].by_status {
                let _ = writeln!(
                    out,
                    "grantor_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP grantor_tokens_issued_total Token endpoint outcomes by grant type.\n");
        out.push_str("# TYPE grantor_tokens_issued_total counter\n");
        for ((grant, outcome), n) in lock(&self.tokens).iter() {
            let _ = writeln!(
                out,
                "grantor_tokens_issued_total{{grant_type=\"{grant}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP grantor_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE grantor_http_request_duration_seconds histogram\n");
        for route in &names {
            let h = &routes[*route];
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "grantor_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "grantor_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "grantor_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "grantor_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out
    }
}

/// Middleware: times every request and counts it under its route pattern (never the raw
/// path, so label values stay bounded).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.record_request(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
