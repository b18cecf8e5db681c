//! The HTTP client the `oauth2` and `openidconnect` clients in these tests send through: the
//! workspace's reqwest. Their own `reqwest` feature would build a second reqwest (0.12).

use oauth2::http;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

/// Pass `&OAuthHttp(&client)` where those crates ask for an HTTP client.
pub struct OAuthHttp<'a>(pub &'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.execute(request.try_into()?).await?;
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            let mut answer = http::Response::new(response.bytes().await?.to_vec());
            *answer.status_mut() = status;
            *answer.version_mut() = version;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
