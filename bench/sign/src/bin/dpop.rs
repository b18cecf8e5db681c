//! A load generator for DPoP-bound client_credentials tokens (RFC 9449), for bench/run.sh:
//! `oha` repeats one request, but a DPoP proof is single use (the server records its `jti`,
//! and its `iat` must lie within 60 s of now), so every request here carries a proof of its
//! own.
//!
//! One ES256 key pair signs every proof. So that signing does not compete with the server
//! during the measured run, the proofs are made beforehand, on every core:
//!   1. one request, whose answer must be 200 with `token_type: "DPoP"` (else it fails);
//!   2. a 1 s probe on all connections (unmeasured; it also warms the server up), with
//!      proofs made for it beforehand, to estimate the rate;
//!   3. proofs for 1.5 times the probe's rate over the run (plus 10,000; at most 2,000,000),
//!      each request already written out in full;
//!   4. the measured run: CONNECTIONS keep-alive HTTP/1.1 connections, each request taking the
//!      next unused proof. Should the proofs run out, the rest are signed during the run, and
//!      `signed_during_run` says how many.
//!
//! The proofs' `iat` is the time they were made, so SECONDS may be 40 at most.
//! With SERVER_PID, the server's CPU time (utime+stime, /proc/PID/stat) is read right before
//! and after the measured run, so that its CPU per token leaves the probe and the set-up out.
//!
//! Prints one JSON line: requests, ok (200 with token_type DPoP), errors by status (or `io`),
//! tokens/s, p50/p99 latency in ms.
//!
//! Usage: grantor-bench-dpop BASE_URL CLIENT_ID CLIENT_SECRET SECONDS CONNECTIONS [SERVER_PID]
//!   e.g. grantor-bench-dpop http://127.0.0.1:8080 app_... secret 10 32

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use grantor_core::jose::{Alg, SigningKey};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: grantor-bench-dpop BASE_URL CLIENT_ID CLIENT_SECRET SECONDS CONNECTIONS [SERVER_PID]";
const BODY: &str = "grant_type=client_credentials";
const MAX_SECONDS: u64 = 40;
const MAX_PROOFS: usize = 2_000_000;
const PROBE_PROOFS: usize = 40_000;
/// A request that takes longer than this counts as an `io` error.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What every request shares: the signing key, the proof header, the request's fixed part.
struct Maker {
    key: SigningKey,
    header: serde_json::Value,
    htu: String,
    /// The request up to the `DPoP` header's value.
    head: String,
    /// Makes every `jti` unique across runs as well as within one: the start of the public
    /// key, new each run.
    run_id: String,
}

impl Maker {
    /// The whole request for proof number `n`.
    fn request(&self, n: usize, iat: i64) -> Result<Vec<u8>, Error> {
        let claims = json!({
            "jti": format!("{}-{n}", self.run_id),
            "htm": "POST",
            "htu": self.htu,
            "iat": iat,
        });
        let proof = self.key.sign_with_header(&self.header, &claims)?;
        let mut request = Vec::with_capacity(self.head.len() + proof.len() + BODY.len() + 4);
        request.extend_from_slice(self.head.as_bytes());
        request.extend_from_slice(proof.as_bytes());
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(BODY.as_bytes());
        Ok(request)
    }

    /// Requests `first..first + count`, made on every core.
    fn requests(&self, first: usize, count: usize) -> Result<Vec<Vec<u8>>, Error> {
        let iat = now();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = count.div_ceil(threads).max(1);
        let parts = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .step_by(share)
                .map(|start| {
                    let end = (start + share).min(count);
                    scope.spawn(move || {
                        (start..end)
                            .map(|i| self.request(first + i, iat))
                            .collect::<Result<Vec<_>, Error>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| Error::from("a signing thread panicked"))?
                })
                .collect::<Result<Vec<_>, Error>>()
        })?;
        Ok(parts.into_iter().flatten().collect())
    }
}

fn now() -> i64 {
    grantor_core::Clock::now(&grantor_core::SystemClock)
}

/// The requests of one run, handed out in order; past the end, made on the spot.
struct Pool {
    requests: Vec<Vec<u8>>,
    /// The number the first request in `requests` bears.
    first: usize,
    next: AtomicUsize,
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    signed: u64,
}

/// One answer: its status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one HTTP/1.1 response with a Content-Length (what the server sends) from `stream`.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Answer, Error> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end])?;
    let status: u16 = head.split(' ').nth(1).ok_or("no status line")?.parse()?;
    let (mut length, mut close) = (None, false);
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("transfer-encoding {value} is not supported").into());
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    let length = length.ok_or("an answer without Content-Length")?;
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("the server closed the connection mid-answer".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Ok(Answer {
        status,
        body,
        close,
    })
}

async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> Result<Answer, Error> {
    stream.write_all(request).await?;
    read_answer(stream, buf).await
}

fn is_dpop_token(answer: &Answer) -> bool {
    answer.status == 200
        && serde_json::from_slice::<serde_json::Value>(&answer.body)
            .is_ok_and(|v| v["token_type"] == "DPoP" && v["access_token"].is_string())
}

/// One connection's loop until `deadline`.
async fn connection(
    address: String,
    maker: Arc<Maker>,
    pool: Arc<Pool>,
    deadline: Instant,
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(8192);
    while Instant::now() < deadline {
        let n = pool.next.fetch_add(1, Ordering::Relaxed);
        let made;
        let request = match pool.requests.get(n) {
            Some(r) => r.as_slice(),
            None => {
                tally.signed += 1;
                made = maker.request(pool.first + n, now())?;
                made.as_slice()
            }
        };
        let conn = match &mut stream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&address).await?;
                s.set_nodelay(true)?;
                buf.clear();
                stream.insert(s)
            }
        };
        let started = Instant::now();
        match tokio::time::timeout(TIMEOUT, exchange(conn, &mut buf, request)).await {
            Ok(Ok(answer)) => {
                tally
                    .latencies_us
                    .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                if is_dpop_token(&answer) {
                    tally.ok += 1;
                } else {
                    let key = if answer.status == 200 {
                        "200 without token_type DPoP".to_string()
                    } else {
                        answer.status.to_string()
                    };
                    *tally.errors.entry(key).or_default() += 1;
                }
                if answer.close {
                    stream = None;
                }
            }
            Ok(Err(_)) | Err(_) => {
                *tally.errors.entry("io".to_string()).or_default() += 1;
                stream = None;
            }
        }
    }
    Ok(tally)
}

/// `connections` connections for `seconds`, taking requests from `pool`.
async fn run(
    address: &str,
    maker: &Arc<Maker>,
    pool: Arc<Pool>,
    seconds: f64,
    connections: usize,
) -> Result<(Tally, f64), Error> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(connection(
                address.to_string(),
                maker.clone(),
                pool.clone(),
                deadline,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await??;
        all.latencies_us.extend(t.latencies_us);
        all.ok += t.ok;
        all.signed += t.signed;
        for (k, v) in t.errors {
            *all.errors.entry(k).or_default() += v;
        }
    }
    Ok((all, started.elapsed().as_secs_f64()))
}

/// utime+stime of a process, in seconds.
fn cpu_seconds(pid: &str) -> Result<f64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').ok_or("unreadable /proc/PID/stat")? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11).ok_or("short stat")?.parse::<u64>()?
        + fields.get(12).ok_or("short stat")?.parse::<u64>()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / per_second.max(1) as f64)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(5..=6).contains(&args.len()) {
        return Err(USAGE.into());
    }
    let base = args[0].trim_end_matches('/').to_string();
    let (client_id, secret) = (&args[1], &args[2]);
    let seconds: u64 = args[3].trim_end_matches('s').parse()?;
    let connections: usize = args[4].parse()?;
    let server_pid = args.get(5);
    if seconds == 0 || seconds > MAX_SECONDS || connections == 0 {
        return Err(format!(
            "SECONDS must be 1 to {MAX_SECONDS} (proofs are made before the run and must be used within 60 s), CONNECTIONS at least 1"
        )
        .into());
    }
    let host = base
        .strip_prefix("http://")
        .ok_or("BASE_URL must start with http://")?;
    if host.contains('/') {
        return Err("BASE_URL must be scheme, host and port only".into());
    }

    let (key, _der) = SigningKey::generate(Alg::ES256)?;
    let jwk = key.jwk.clone();
    let header = json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y},
    });
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nDPoP: ",
        STANDARD.encode(format!("{client_id}:{secret}")),
        BODY.len()
    );
    let maker = Arc::new(Maker {
        key,
        header,
        htu: format!("{base}/oauth2/token"),
        head,
        run_id: jwk
            .x
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // 1. One request, which must be answered with a DPoP-bound token.
        let mut stream = TcpStream::connect(host).await?;
        let mut buf = Vec::new();
        let answer = exchange(&mut stream, &mut buf, &maker.request(0, now())?).await?;
        if !is_dpop_token(&answer) {
            return Err(format!(
                "the first request was not answered with a DPoP-bound token: {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )
            .into());
        }
        drop(stream);

        // 2. A 1 s probe, unmeasured, to size the pool of proofs.
        let probe = Arc::new(Pool {
            requests: maker.requests(1, PROBE_PROOFS)?,
            first: 1,
            next: AtomicUsize::new(0),
        });
        let (tally, wall) = run(host, &maker, probe.clone(), 1.0, connections).await?;
        let probe_rate = tally.latencies_us.len() as f64 / wall;
        if tally.ok == 0 {
            return Err(format!("the probe got no token: {:?}", tally.errors).into());
        }

        // 3. Proofs for the measured run.
        let count = ((probe_rate * 1.5 * seconds as f64) as usize + 10_000).min(MAX_PROOFS);
        let first = 1 + probe.next.load(Ordering::Relaxed).max(PROBE_PROOFS);
        let made = Instant::now();
        let pool = Arc::new(Pool {
            requests: maker.requests(first, count)?,
            first,
            next: AtomicUsize::new(0),
        });
        let making = made.elapsed().as_secs_f64();
        eprintln!(
            "probe: {probe_rate:.0} requests/s; {count} proofs made in {making:.2} s; running {seconds} s on {connections} connections"
        );

        // 4. The measured run.
        let cpu0 = server_pid.map(|p| cpu_seconds(p)).transpose()?;
        let (tally, wall) = run(host, &maker, pool, seconds as f64, connections).await?;
        let cpu1 = server_pid.map(|p| cpu_seconds(p)).transpose()?;

        let mut latencies = tally.latencies_us;
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |&us| us as f64 / 1000.0)
        };
        let requests = latencies.len() as u64 + tally.errors.get("io").copied().unwrap_or(0);
        let server_cpu = match (cpu0, cpu1) {
            (Some(a), Some(b)) => json!({
                "server_cpu_s": b - a,
                "server_cpu_us_per_token": if tally.ok > 0 { (b - a) * 1e6 / tally.ok as f64 } else { 0.0 },
                "server_cpu_cores": (b - a) / wall,
            }),
            _ => json!({}),
        };
        let mut report = json!({
            "connections": connections,
            "seconds": wall,
            "requests": requests,
            "ok": tally.ok,
            "errors": tally.errors,
            "per_sec": tally.ok as f64 / wall,
            "requests_per_sec": requests as f64 / wall,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "probe_per_sec": probe_rate,
            "proofs_made": count,
            "proofs_making_s": making,
            "signed_during_run": tally.signed,
        });
        if let (Some(r), Some(c)) = (report.as_object_mut(), server_cpu.as_object()) {
            r.extend(c.clone());
        }
        println!("{report}");
        Ok(())
    })
}
