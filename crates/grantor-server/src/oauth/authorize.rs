//! `GET|POST /oauth2/authorize`: sign-in when needed, approval when needed, then the
//! redirect back to the app.
//!
//! A request that names a `request_uri` (RFC 9126 4) is replaced by the parameters its app
//! pushed to `/oauth2/par`. Once expanded, the request travels on through the sign-in page's
//! `return_to` and the approval form like any other, carrying a mark (an HMAC of its
//! parameters, with an expiry, under the server's form key) that says it was pushed: the
//! installation's "require PAR" rule, checked only here at the entry, then lets it back in,
//! and a browser cannot make a mark for parameters of its own.

use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::AuthorizeReply;
use crate::input::AuthorizeParams;
use crate::web::{consent, csrf, see_other, session};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use grantor_core::OAuthError;
use grantor_core::authorize::{AuthorizeError, Step};
use grantor_core::params::Params;

/// The parameter that carries the mark of a pushed request.
const PUSHED_MARK: &str = "grantor_pushed";
/// Seconds a pushed request, once expanded, may take to come back from the sign-in page.
const PUSHED_MARK_TTL: i64 = 3600;

/// What the mark signs: the expiry and every parameter but the mark, in order.
fn mark_binding(pairs: &[(String, String)], expires_at: i64) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(n, _)| n != PUSHED_MARK) {
        ser.append_pair(name, value);
    }
    // The prefix keeps these apart from the session-bound form tokens under the same key.
    format!("pushed-request:{expires_at}:{}", ser.finish())
}

/// `pairs` (without any old mark) with a fresh mark.
fn marked(state: &AppState, pairs: &[(String, String)]) -> Vec<(String, String)> {
    let expires_at = state.provider.clock.now() + PUSHED_MARK_TTL;
    let token = csrf::token(&state.csrf_key, &mark_binding(pairs, expires_at));
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, _)| n != PUSHED_MARK)
        .cloned()
        .collect();
    out.push((PUSHED_MARK.into(), format!("{expires_at}.{token}")));
    out
}

/// Whether `pairs` carry a good, unexpired mark for exactly these parameters.
fn is_marked(state: &AppState, pairs: &[(String, String)]) -> bool {
    let Some((_, mark)) = pairs.iter().find(|(n, _)| n == PUSHED_MARK) else {
        return false;
    };
    let Some((expires_at, token)) = mark.split_once('.') else {
        return false;
    };
    let Ok(expires_at) = expires_at.parse::<i64>() else {
        return false;
    };
    expires_at > state.provider.clock.now()
        && csrf::verify(
            &state.csrf_key,
            &mark_binding(pairs, expires_at),
            Some(token),
        )
}

/// Sends the browser to the sign-in page, to come back to this authorization request
/// afterwards, minus `prompt=login` so coming back does not ask again. A pushed request's
/// mark is made again for what changed.
pub fn sign_in_then(state: &AppState, pairs: &[(String, String)]) -> Response {
    let return_to = come_back(state, pairs);
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    see_other(&format!("/login?return_to={encoded}"))
}

/// Sends the browser on for a second factor, to come back to this authorization request
/// afterwards: to the code page ([`Step::SecondFactor`], a step up of the signed-in
/// `user_id`) or to set one up ([`Step::Enrol`]). Any other step signs in again.
pub async fn second_factor_then(
    state: &AppState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    user_id: &str,
    pairs: &[(String, String)],
    step: Step,
) -> Response {
    let return_to = come_back(state, pairs);
    match step {
        Step::SecondFactor => {
            crate::web::second_step::after_password(state, headers, address, user_id, &return_to)
                .await
        }
        Step::Enrol { org_name } => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("required", &org_name)
                .append_pair("return_to", &return_to)
                .finish();
            see_other(&format!("/account/security?{query}"))
        }
        _ => sign_in_then(state, pairs),
    }
}

/// This authorization request as a local path to come back to, minus `prompt=login` so
/// coming back does not ask again; a pushed request's mark is made again.
fn come_back(state: &AppState, pairs: &[(String, String)]) -> String {
    let pushed = is_marked(state, pairs);
    let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs.iter().filter(|(n, _)| n != PUSHED_MARK) {
        if name == "prompt" {
            let rest: Vec<&str> = value
                .split(' ')
                .filter(|p| *p != "login" && !p.is_empty())
                .collect();
            if !rest.is_empty() {
                kept.push((name.clone(), rest.join(" ")));
            }
        } else {
            kept.push((name.clone(), value.clone()));
        }
    }
    if pushed {
        kept = marked(state, &kept);
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&kept)
        .finish();
    format!("/oauth2/authorize?{query}")
}

/// The request to work on, and whether it was pushed: a `request_uri`'s stored parameters
/// (used up here), or the parameters given. The "require PAR" rule is checked here.
async fn entry(state: &AppState, params: Params) -> Result<(Params, bool), AuthorizeError> {
    if let Some(request_uri) = params.get("request_uri") {
        // RFC 9126 4: every other parameter but client_id is ignored.
        let client_id = params.require("client_id").map_err(AuthorizeError::Page)?;
        let pushed = state
            .provider
            .take_pushed_authorization(client_id, request_uri)
            .await?;
        return Ok((pushed, true));
    }
    if is_marked(state, params.pairs()) {
        return Ok((params, true));
    }
    if state.provider.requires_pushed_requests() {
        return Err(AuthorizeError::Page(OAuthError::invalid_request(
            "this server accepts only pushed authorization requests (RFC 9126): \
             the app must push the request to /oauth2/par first",
        )));
    }
    Ok((params, false))
}

/// What becomes of a pending dynamic registration's authorization request.
enum Pending {
    /// Not a pending registration (or just bound): the request goes on.
    GoOn,
    /// Pending, and nobody signed in: binding waits for a member of the organization.
    SignIn,
}

/// A pending dynamic registration's first authorization request, made by a signed-in member
/// of the organization owning the `resource` it names, binds it to that organization if it
/// is open to registration (see `grantor_core::manage` registrations); without a session,
/// the user signs in first. For any other client_id nothing happens. Only a client_id no app
/// has is looked up.
async fn bind_pending_registration(
    state: &AppState,
    params: &Params,
    user: Option<&str>,
    address: std::net::IpAddr,
) -> Result<Pending, AuthorizeError> {
    let Some(client_id) = params.get("client_id") else {
        return Ok(Pending::GoOn);
    };
    if !grantor_core::model::is_app_id(client_id)
        || grantor_core::store::Registry::client(&state.store, client_id)
            .await?
            .is_some()
        || !state
            .manager
            .is_pending_registration(client_id)
            .await
            .map_err(AuthorizeError::Page)?
    {
        return Ok(Pending::GoOn);
    }
    let Some(user) = user else {
        return Ok(Pending::SignIn);
    };
    let resources = grantor_core::grant::parse_resources(params);
    state
        .manager
        .bind_registration(client_id, &resources, user, Some(address))
        .await
        .map(|_| Pending::GoOn)
        .map_err(AuthorizeError::Page)
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddress(address): ClientAddress,
    AuthorizeParams(params): AuthorizeParams,
) -> Response {
    let (params, pushed) = match entry(&state, params).await {
        Ok(entered) => entered,
        Err(error) => return AuthorizeReply(error).into_response(),
    };
    let current = session::current(&state, &headers).await;
    let pairs = if pushed {
        marked(&state, params.pairs())
    } else {
        params.pairs().to_vec()
    };
    let user = current.as_ref().map(|c| c.user.user_id.as_str());
    match bind_pending_registration(&state, &params, user, address).await {
        Ok(Pending::GoOn) => {}
        Ok(Pending::SignIn) => return sign_in_then(&state, &pairs),
        Err(error) => return AuthorizeReply(error).into_response(),
    }
    let req = match state.provider.parse_authorization(&params).await {
        Ok(req) => req,
        Err(error) => return AuthorizeReply(error).into_response(),
    };
    if let Err(error) = state.provider.refuse_unpushed(&req, pushed) {
        return AuthorizeReply(error).into_response();
    }
    match state
        .provider
        .authorization_step(&req, current.as_ref().map(|c| &c.user))
        .await
    {
        Ok(Step::Respond(location)) => see_other(&location),
        Ok(Step::Login) => sign_in_then(&state, &pairs),
        Ok(step @ (Step::SecondFactor | Step::Enrol { .. })) => match current {
            Some(current) => {
                let user_id = &current.user.user_id;
                second_factor_then(&state, &headers, address, user_id, &pairs, step).await
            }
            None => sign_in_then(&state, &pairs),
        },
        Ok(Step::Consent(prompt)) => match current {
            Some(current) => {
                let request = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish();
                consent::show(&state, &current, prompt, request).await
            }
            None => sign_in_then(&state, &pairs),
        },
        Err(error) => AuthorizeReply(error).into_response(),
    }
}
