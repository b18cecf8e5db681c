//! `GET|POST /oauth2/authorize`: sign-in when needed, approval when needed, then the
//! redirect back to the app.

use crate::AppState;
use crate::error::AuthorizeReply;
use crate::input::AuthorizeParams;
use crate::web::{consent, see_other, session};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use grantor_core::authorize::Step;

/// Sends the browser to the sign-in page, to come back to this authorization request
/// afterwards, minus `prompt=login` so coming back does not ask again.
pub fn sign_in_then(pairs: &[(String, String)]) -> Response {
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
    let return_to = format!("/oauth2/authorize?{}", ser.finish());
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    see_other(&format!("/login?return_to={encoded}"))
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    AuthorizeParams(params): AuthorizeParams,
) -> Response {
    let pairs = params.pairs();
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
        Ok(Step::Login) => sign_in_then(pairs),
        Ok(Step::Consent(prompt)) => match current {
            Some(current) => {
                let request = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                consent::show(&state, &current, prompt, request).await
            }
            None => sign_in_then(pairs),
        },
        Err(error) => AuthorizeReply(error).into_response(),
    }
}
