//! `GET|POST /oauth2/authorize`: sign-in when needed, approval when needed, then the
//! redirect back to the app.

use crate::AppState;
use crate::error::AuthorizeReply;
use crate::web::{consent, see_other, session};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use grantor_core::authorize::Step;
use grantor_core::params::Params;

/// The request again, minus `prompt=login` once the user is about to sign in, so coming back
/// after signing in does not ask again.
fn encode_without_login_prompt(pairs: &[(String, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if name == "prompt" {
            let rest: Vec<&str> = value
                .split(' ')
                .filter(|p| *p != "login" && !p.is_empty())
                .collect();
            if !rest.is_empty() {
                ser.append_pair(name, &rest.join(" "));
            }
        } else {
            ser.append_pair(name, value);
        }
    }
    ser.finish()
}

pub async fn authorize(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    // OIDC Core 3.1.2.1: GET with a query or POST with a form.
    let raw = if method == Method::POST {
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&raw).into_owned().collect();
    let params = match Params::new(pairs.clone()) {
        Ok(p) => p,
        Err(e) => return AuthorizeReply::page(e).into_response(),
    };
    let req = match state.provider.parse_authorization(&params).await {
        Ok(req) => req,
        Err(error) => return AuthorizeReply(error).into_response(),
    };
    let current = session::current(&state, &headers).await;
    match state
        .provider
        .authorization_step(&req, current.as_ref().map(|c| &c.user))
        .await
    {
        Ok(Step::Respond(location)) => see_other(&location),
        Ok(Step::Login) => {
            let return_to = format!("/oauth2/authorize?{}", encode_without_login_prompt(&pairs));
            let encoded: String =
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
            see_other(&format!("/login?return_to={encoded}"))
        }
        Ok(Step::Consent(prompt)) => match current {
            Some(current) => {
                let request = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish();
                consent::show(&state, &current, prompt, request).await
            }
            None => see_other("/login"),
        },
        Err(error) => AuthorizeReply(error).into_response(),
    }
}
