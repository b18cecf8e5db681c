//! Times `SigningKey::sign` alone, on the calling thread, for ES256 and RS256; also
//! `jose::verify` of the resulting token (the cryptographic core of introspection), and a
//! resource server's whole check in `grantor-resource` (`Validator::validate`: signature,
//! claims, issuer, audience, expiry) with the keys already known.
//!
//! Usage: grantor-bench-sign [SECONDS]   (default 3 seconds per algorithm)
//! Prints a human-readable line per algorithm and, last, one JSON line for scripts.

use grantor_core::jose::{self, Alg, SigningKey, VerifyingKey};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Calls `op` repeatedly for `seconds` (after a short warm-up); returns (calls, elapsed s).
fn time<F: FnMut() -> Result<(), String>>(seconds: f64, mut op: F) -> Result<(u64, f64), String> {
    // Warm-up: caches, lazy tables, CPU frequency.
    let warm_until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < warm_until {
        op()?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        // Check the clock every 16 calls so timing overhead stays negligible.
        for _ in 0..16 {
            op()?;
        }
        n += 16;
        if start.elapsed() >= budget {
            break;
        }
    }
    Ok((n, start.elapsed().as_secs_f64()))
}

fn report(what: &str, alg: Alg, (n, elapsed): (u64, f64)) -> serde_json::Value {
    let per_sec = n as f64 / elapsed;
    let us = elapsed * 1e6 / n as f64;
    println!(
        "{what:<6} {:<6} {n:>9} in {elapsed:.2} s: {per_sec:>10.0} /s, {us:>8.2} us each",
        alg.as_str()
    );
    json!({
        "op": what,
        "alg": alg.as_str(),
        "count": n,
        "seconds": elapsed,
        "per_second": per_sec,
        "us_each": us,
    })
}

fn run(alg: Alg, seconds: f64) -> Result<Vec<serde_json::Value>, String> {
    let (key, _der) = SigningKey::generate(alg).map_err(|e| format!("generate {alg:?}: {e}"))?;
    let claims = grantor_bench_sign::claims();
    let sign = time(seconds, || {
        black_box(
            key.sign("at+jwt", black_box(&claims))
                .map_err(|e| e.to_string())?,
        );
        Ok(())
    })?;
    let token = key.sign("at+jwt", &claims).map_err(|e| e.to_string())?;
    let verifier = VerifyingKey::from_jwk(&key.jwk).map_err(|e| e.to_string())?;
    let verify = time(seconds, || {
        black_box(
            jose::verify(black_box(&token), &[alg], |_| Some(&verifier))
                .map_err(|e| e.to_string())?,
        );
        Ok(())
    })?;
    let config = grantor_resource::Config::new("http://127.0.0.1:8080", "https://api.example.com");
    let validator = grantor_resource::Validator::with_keys(
        config,
        &jose::JwkSet {
            keys: vec![key.jwk.clone()],
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let validate = time(seconds, || {
        black_box(
            rt.block_on(validator.validate(black_box(&token)))
                .map_err(|e| e.to_string())?,
        );
        Ok(())
    })?;
    Ok(vec![
        report("sign", alg, sign),
        report("verify", alg, verify),
        report("validate", alg, validate),
    ])
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let mut results = Vec::new();
    for alg in [Alg::ES256, Alg::RS256] {
        match run(alg, seconds) {
            Ok(r) => results.extend(r),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{}", json!({ "results": results }));
}
