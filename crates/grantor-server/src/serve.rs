//! The accept loop, instead of `axum::serve`, because serving the internet needs bounds it
//! does not set: a client must send its request line and headers within
//! `header_read_timeout` (hyper applies the same timer to an idle keep-alive connection
//! waiting for its next request), a whole request must be answered within
//! `request_timeout`, and at most `max_connections` connections are served at once; past
//! that, new ones wait in the kernel's backlog until one ends.
//!
//! Bodies are read inside `request_timeout`: a request whose body was still arriving when
//! time ran out is the client's doing (408); one whose body had arrived is the server's,
//! typically a database that stopped answering without closing its connections, and is
//! answered 503 in the endpoint's own format, so OAuth clients see `temporarily_unavailable`.

use crate::error::{OAuthReply, PageError, Problem};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantor_core::{ErrorCode, OAuthError, ServiceError};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

/// The bounds on what one client can hold.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

/// Which kind of endpoint a request is for, to answer it in that endpoint's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    OAuth,
    Api,
    Page,
}

impl Surface {
    pub(crate) fn of(path: &str) -> Self {
        // The authorization endpoint is a browser's page, not a client's JSON exchange.
        if path.starts_with("/oauth2/") && path != "/oauth2/authorize" {
            Self::OAuth
        } else if path.starts_with("/api/") {
            Self::Api
        } else {
            Self::Page
        }
    }
}

/// The answer to a request that ran out of time (see the module's comment), with the headers
/// the router's answers carry: it is made outside the router.
fn timed_out(surface: Surface, body_arrived: bool) -> Response {
    let mut response = timeout_answer(surface, body_arrived);
    crate::web::add_security_headers(&mut response);
    response
}

fn timeout_answer(surface: Surface, body_arrived: bool) -> Response {
    if !body_arrived {
        let mut response = (
            StatusCode::REQUEST_TIMEOUT,
            "the request took too long to arrive\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    const WHY: &str = "the request ran past the server's request timeout";
    match surface {
        Surface::OAuth => OAuthReply(
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the server took too long to answer; try again shortly",
            )
            .with_detail(WHY),
        )
        .into_response(),
        Surface::Api => Problem::from(ServiceError::Unavailable(WHY.into())).into_response(),
        Surface::Page => PageError::Unavailable {
            message: "The server took too long to answer. Try again in a moment.",
            detail: WHY.into(),
        }
        .into_response(),
    }
}

/// A request body that notes when it has been read to its end.
struct Watched {
    body: Incoming,
    arrived: Arc<AtomicBool>,
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        if self.body.is_end_stream() {
            self.arrived.store(true, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The request as the router takes it, and, when it has a body, the flag that says whether
/// the body has all arrived. A request without one (most GETs) costs no allocation.
fn watch_body(request: Request<Incoming>) -> (Request<Body>, Option<Arc<AtomicBool>>) {
    if request.body().is_end_stream() {
        return (request.map(Body::new), None);
    }
    let arrived = Arc::new(AtomicBool::new(false));
    let flag = arrived.clone();
    let request = request.map(|body| Body::new(Watched { body, arrived }));
    (request, Some(flag))
}

/// Serves `router` until `shutdown` resolves, then stops accepting and waits for the
/// connections in flight to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let request_timeout = limits.request_timeout;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            // Handlers learn the peer address as with axum's own server.
            request.extensions_mut().insert(ConnectInfo(peer));
            let surface = Surface::of(request.uri().path());
            let (request, arrived) = watch_body(request);
            let mut router = router.clone();
            async move {
                let answer = tokio::time::timeout(request_timeout, router.call(request));
                Ok::<_, Infallible>(match answer.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_elapsed) => timed_out(
                        surface,
                        arrived.is_none_or(|arrived| arrived.load(Ordering::Relaxed)),
                    ),
                })
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Surface, timed_out};

    #[test]
    fn each_endpoint_is_answered_in_its_own_format() {
        assert_eq!(Surface::of("/oauth2/token"), Surface::OAuth);
        assert_eq!(Surface::of("/oauth2/authorize"), Surface::Page);
        assert_eq!(Surface::of("/api/v1/orgs"), Surface::Api);
        assert_eq!(Surface::of("/login"), Surface::Page);
        let content_type = |surface, arrived| {
            let response = timed_out(surface, arrived);
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            (response.status().as_u16(), kind)
        };
        assert_eq!(content_type(Surface::OAuth, false).0, 408);
        assert_eq!(
            content_type(Surface::OAuth, true),
            (503, "application/json".into())
        );
        assert_eq!(
            content_type(Surface::Api, true),
            (503, "application/problem+json".into())
        );
        let (status, kind) = content_type(Surface::Page, true);
        assert_eq!(status, 503);
        assert!(kind.starts_with("text/html"), "{kind}");
        // Made outside the router, the page still carries the pages' security headers.
        let page = timed_out(Surface::Page, true);
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        assert!(page.headers().contains_key("content-security-policy"));
    }
}
