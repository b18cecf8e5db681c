//! What one client can hold: a half-sent request, a trickling body, an idle connection, or
//! more connections than the server serves at once.

use crate::support::{Backend, TestServer};
use grantor_core::SystemClock;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

async fn spawn(tweak: impl FnOnce(&mut grantor_server::Config)) -> TestServer {
    TestServer::spawn_with(Backend::Sqlite, Arc::new(SystemClock), tweak).await
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent
/// and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server still held the connection after {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_dropped_after_the_header_timeout() {
    let srv = spawn(|c| c.header_read_timeout = 1).await;
    for partial in ["GET /heal", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "] {
        let mut stream = TcpStream::connect(srv.address).await.unwrap();
        stream.write_all(partial.as_bytes()).await.unwrap();
        let (_, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(
            took < Duration::from_secs(5),
            "{partial:?} held for {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let srv = spawn(|c| c.header_read_timeout = 1).await;
    let mut stream = TcpStream::connect(srv.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (sent, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(took < Duration::from_secs(5), "idle for {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_answered_408() {
    let srv = spawn(|c| c.request_timeout = 1).await;
    let mut stream = TcpStream::connect(srv.address).await.unwrap();
    stream
        .write_all(
            b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type",
        )
        .await
        .unwrap();
    let (sent, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let srv = spawn(|c| {
        c.max_connections = 2;
        c.header_read_timeout = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(srv.address).await.unwrap();
        // A complete request keeps the connection open (keep-alive) once answered.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(srv.address).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        timeout(Duration::from_millis(700), third.read(&mut buf))
            .await
            .is_err(),
        "a third connection is not served while two are held"
    );
    drop(held.pop());
    let n = timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("served once a connection is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_client_makes_many_requests() {
    let srv = spawn(|_| {}).await;
    for _ in 0..20 {
        let status = srv
            .http
            .get(srv.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
}
