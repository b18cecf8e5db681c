//! The tower layers: one checks the token, one checks a route's scope.

use crate::caller::Caller;
use crate::error::TokenError;
use crate::metadata::MetadataUrl;
use crate::validator::Validator;
use axum::body::Body;
use axum::http::{Request, header};
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// A check that runs before the inner service and may refuse the request.
pub trait Guard: Clone + Send + Sync + 'static {
    fn check(
        &self,
        request: &mut Request<Body>,
    ) -> impl Future<Output = Result<(), TokenError>> + Send;
}

/// The service a guard layer wraps around the inner one.
#[derive(Clone)]
pub struct Guarded<G, S> {
    guard: G,
    inner: S,
}

impl<G, S> Service<Request<Body>> for Guarded<G, S>
where
    G: Guard,
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            match guard.check(&mut request).await {
                Ok(()) => inner.call(request).await,
                Err(refusal) => {
                    let url = request.extensions().get::<MetadataUrl>();
                    Ok(refusal.respond(url.map(|u| &*u.0)))
                }
            }
        })
    }
}

/// Requires a valid Grantor access token; handlers behind it can extract [`Caller`]. Its
/// refusals, and those of the layers behind it, name the API's metadata URL.
#[derive(Clone)]
pub struct RequireToken {
    validator: Arc<Validator>,
    metadata_url: Option<MetadataUrl>,
}

impl RequireToken {
    pub fn new(validator: Validator) -> Self {
        Self::shared(Arc::new(validator))
    }

    pub fn shared(validator: Arc<Validator>) -> Self {
        let metadata_url = validator.metadata_url().map(|u| MetadataUrl(u.into()));
        Self {
            validator,
            metadata_url,
        }
    }
}

impl Guard for RequireToken {
    async fn check(&self, request: &mut Request<Body>) -> Result<(), TokenError> {
        if let Some(url) = &self.metadata_url {
            request.extensions_mut().insert(url.clone());
        }
        let (scheme, token) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(scheme, token)| (scheme, token.trim()))
            .filter(|(_, token)| !token.is_empty())
            .ok_or(TokenError::Missing)?;
        let caller = if scheme.eq_ignore_ascii_case("bearer") {
            self.validator.validate(token).await?
        } else if scheme.eq_ignore_ascii_case("dpop") {
            let proof = dpop_header(request)?;
            // The path as this layer sees it: under a `nest`, the prefix belongs in the
            // configured public URL.
            let path = request.uri().path();
            let method = request.method().as_str();
            self.validator
                .validate_dpop(token, proof, method, path)
                .await?
        } else {
            return Err(TokenError::Missing);
        };
        request.extensions_mut().insert(caller);
        Ok(())
    }
}

/// The request's one `DPoP` header, if any (RFC 9449 4.1: never more than one).
fn dpop_header(request: &Request<Body>) -> Result<Option<&str>, TokenError> {
    let mut values = request.headers().get_all("dpop").iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(TokenError::InvalidDpopProof(
            "a request carries one DPoP header at most".into(),
        )),
        (Some(value), None) => value.to_str().map(|v| Some(v.trim())).map_err(|_| {
            TokenError::InvalidDpopProof("the DPoP proof is not a well-formed JWT".into())
        }),
    }
}

impl<S> Layer<S> for RequireToken {
    type Service = Guarded<RequireToken, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            guard: self.clone(),
            inner,
        }
    }
}

/// Requires the caller's token to carry one scope. Place it on a route behind
/// [`RequireToken`].
#[derive(Clone)]
pub struct RequireScope {
    scope: Arc<str>,
}

/// `get(handler).layer(require_scope("trades:read"))`: the route needs that scope.
pub fn require_scope(scope: &str) -> RequireScope {
    RequireScope {
        scope: scope.into(),
    }
}

impl Guard for RequireScope {
    async fn check(&self, request: &mut Request<Body>) -> Result<(), TokenError> {
        match request.extensions().get::<Caller>() {
            Some(caller) if caller.has_scope(&self.scope) => Ok(()),
            Some(_) => Err(TokenError::InsufficientScope(self.scope.to_string())),
            None => Err(TokenError::Missing),
        }
    }
}

impl<S> Layer<S> for RequireScope {
    type Service = Guarded<RequireScope, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            guard: self.clone(),
            inner,
        }
    }
}
