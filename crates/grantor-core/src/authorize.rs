//! The authorization endpoint (RFC 6749 4.1 and 4.2, OIDC Core 3.1.2): parsing and checking
//! the request, deciding whether the user must sign in or approve, and building the response.
//!
//! The user-facing pages live in `grantor-server`; they call [`Provider::authorization_step`]
//! and [`Provider::decide`] and render what these return.

use crate::model::{App, AppType, Membership};
use crate::params::Params;
use crate::provider::{Provider, Subject, UserGrant};
use crate::scope::ScopeSet;
use crate::store::{
    Client, ConsentRecord, ConsentStore, MemberStore, OrganizationStore, Registry,
    SecondFactorStore, Storage, UserStore,
};
use crate::{ErrorCode, OAuthError, pkce};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    /// The legacy implicit grant: the access token in the fragment.
    Token,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Arc<Client>,
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub response_type: ResponseType,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// Whether `acr_values` asked only for a sign-in with a second factor
    /// ([`crate::model::ACR_MFA`]); values Grantor does not know are ignored (OIDC Core 3.1.2.1:
    /// they are voluntary).
    pub acr_mfa: bool,
    pub resources: Vec<String>,
    /// RFC 9449 10: the thumbprint of the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
}

/// Whether `acr_values` (space-separated, most preferred first) can be met only by a sign-in
/// with a second factor: every value Grantor knows in it is [`crate::model::ACR_MFA`].
fn acr_asks_for_mfa(acr_values: Option<&str>) -> bool {
    use crate::model::{ACR_MFA, ACR_VALUES};
    let known: Vec<&str> = acr_values
        .unwrap_or_default()
        .split(' ')
        .filter(|v| ACR_VALUES.contains(v))
        .collect();
    !known.is_empty() && known.iter().all(|v| *v == ACR_MFA)
}

/// An authorization error goes back to the app only once its redirect URI is known good.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// Bad `client_id` or `redirect_uri`: shown to the user, never redirected.
    Page(OAuthError),
    Redirect(Box<ErrorRedirect>),
}

impl From<crate::StoreError> for AuthorizeError {
    fn from(e: crate::StoreError) -> Self {
        Self::Page(e.into())
    }
}

/// An error on its way back to the app: where to send the browser, and (for the log) why.
#[derive(Debug, Clone)]
pub struct ErrorRedirect {
    /// The redirect URI with `error`, `error_description`, `state` and `iss` added.
    pub location: String,
    pub error: OAuthError,
}

/// Appends parameters to a redirect URI, in the query or (implicit) the fragment. `iss` is
/// always included (RFC 9207); `state` only when the request had one.
pub fn redirect_location(
    redirect_uri: &str,
    fragment: bool,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    if fragment {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url.to_string()
}

impl ErrorRedirect {
    fn new(
        redirect_uri: &str,
        fragment: bool,
        state: Option<&str>,
        error: OAuthError,
        issuer: &str,
    ) -> Self {
        let location = redirect_location(
            redirect_uri,
            fragment,
            &[
                ("error", error.code.as_str()),
                ("error_description", &error.description),
            ],
            state,
            issuer,
        );
        Self { location, error }
    }
}

/// Whether `app` may be sent to `requested`: an exact, case-sensitive string match with a
/// registered redirect URI, or for a native app a loopback match (RFC 8252 7.3). Nothing is
/// normalised first, so no prefix, case, port, userinfo or fragment variant of a registered
/// URI passes.
pub fn redirect_uri_allowed(app: &App, requested: &str) -> bool {
    app.redirect_uris.iter().any(|r| r == requested)
        || (app.app_type == AppType::Native
            && app
                .redirect_uris
                .iter()
                .any(|r| loopback_matches(r, requested)))
}

/// RFC 8252 7.3: a native app's loopback redirect may use any port, and differ in nothing
/// else (userinfo included: it is not part of the registered URI).
fn loopback_matches(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.username() == b.username()
        && a.password() == b.password()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
}

/// Picks the redirect URI: an exact registered match, a native loopback match, or the only
/// registered one when none is given.
fn resolve_redirect(
    client: &Client,
    requested: Option<&str>,
) -> Result<(String, bool), OAuthError> {
    let app = &client.app;
    match requested {
        Some(uri) => {
            if redirect_uri_allowed(app, uri) {
                Ok((uri.to_string(), true))
            } else {
                Err(OAuthError::invalid_request(format!(
                    "redirect_uri {uri:?} is not registered for this app"
                )))
            }
        }
        None => match app.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            _ => Err(OAuthError::invalid_request(
                "redirect_uri is required: this app registered several",
            )),
        },
    }
}

fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    for p in value
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unknown prompt value {other:?}"
                )));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// What the user has to do next.
#[derive(Debug, Clone)]
pub enum Step {
    Login,
    /// The user has a second factor, but signed in with the password alone: ask for the code
    /// (step up), then come back.
    SecondFactor,
    /// An organization the sign-in is for requires a second factor and the user has none:
    /// lead them to set one up, then come back.
    Enrol {
        org_name: String,
    },
    Consent(ConsentPrompt),
    /// Redirect the browser here: the authorization response.
    Respond(String),
}

/// What the approval page shows.
#[derive(Debug, Clone)]
pub struct ConsentPrompt {
    /// Who is asked, so they can tell it is their account.
    pub user_email: String,
    pub app_name: String,
    pub app_org_name: String,
    /// Organizations the user may act in with this app: `(id, name)`.
    pub orgs: Vec<(String, String)>,
    pub scopes: Vec<ScopeChoice>,
}

#[derive(Debug, Clone)]
pub struct ScopeChoice {
    pub name: String,
    pub description: String,
    /// The API (resource server) the scope belongs to, by name: two APIs may both have an
    /// `orders:read`. `None` for built-in scopes.
    pub api: Option<String>,
    /// `openid` is what signing in means; it cannot be unchecked.
    pub required: bool,
}

/// The signed-in user, from their session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
    pub auth_time: i64,
    pub method: crate::model::SignInMethod,
}

/// The user's answer on the approval page.
#[derive(Debug, Clone)]
pub struct Decision {
    pub allow: bool,
    pub org: Option<String>,
    pub scopes: ScopeSet,
}

impl<S> Provider<S> {
    /// RFC 9126 6: an app registered with `require_pushed_authorization_requests` gets an
    /// error for a request that did not come through PAR. Its client and redirect URI are
    /// known good by now, so the error goes back to the app, which can push and retry.
    pub fn refuse_unpushed(
        &self,
        req: &AuthorizationRequest,
        pushed: bool,
    ) -> Result<(), AuthorizeError> {
        if pushed || !req.client.app.require_par {
            return Ok(());
        }
        Err(AuthorizeError::Redirect(Box::new(ErrorRedirect::new(
            &req.redirect_uri,
            req.response_type == ResponseType::Token,
            req.state.as_deref(),
            OAuthError::invalid_request(
                "this app accepts only pushed authorization requests (RFC 9126): \
                 push the request to /oauth2/par first",
            ),
            &self.settings.issuer,
        ))))
    }
}

impl<S: Registry> Provider<S> {
    /// Checks an authorization request. Errors about the client or redirect URI are pages;
    /// all later ones redirect to the app.
    pub async fn parse_authorization(
        &self,
        params: &Params,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let client_id = params.require("client_id").map_err(AuthorizeError::Page)?;
        let client = self.store.client(client_id).await?.ok_or_else(|| {
            AuthorizeError::Page(OAuthError::invalid_request(format!(
                "there is no app with client_id {client_id:?}"
            )))
        })?;
        let (redirect_uri, redirect_uri_given) =
            resolve_redirect(&client, params.get("redirect_uri")).map_err(AuthorizeError::Page)?;
        let state = params.get("state").map(str::to_string);
        let response_type = params.get("response_type");
        let fragment = response_type == Some("token");
        let issuer = &self.settings.issuer;
        let fail = |error: OAuthError| {
            AuthorizeError::Redirect(Box::new(ErrorRedirect::new(
                &redirect_uri,
                fragment,
                state.as_deref(),
                error,
                issuer,
            )))
        };
        let app = &client.app;
        let response_type = match response_type {
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "response_type is required",
                )));
            }
            Some("code") if app.app_type == AppType::Server => {
                return Err(fail(OAuthError::unauthorized_client(
                    "server apps use client credentials, not the authorization endpoint",
                )));
            }
            Some("code") => ResponseType::Code,
            Some("token") if app.allow_implicit => ResponseType::Token,
            Some("token") => {
                return Err(fail(OAuthError::unauthorized_client(
                    "the implicit grant is not enabled for this app",
                )));
            }
            Some(other) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    format!("response_type {other:?} is not supported"),
                )));
            }
        };
        if params.get("request").is_some() || params.get("request_uri").is_some() {
            return Err(fail(OAuthError::invalid_request(
                "request objects are not supported",
            )));
        }
        let scopes = crate::grant::parse_scope(params)
            .map_err(&fail)?
            .unwrap_or_default();
        if scopes.is_empty() {
            return Err(fail(OAuthError::invalid_scope(
                "ask for at least one scope",
            )));
        }
        if scopes.has_management() {
            return Err(fail(OAuthError::invalid_scope(
                "Grantor's management scopes are never granted through sign-in",
            )));
        }
        let missing = scopes.missing_from(&app.scopes);
        if !missing.is_empty() {
            return Err(fail(OAuthError::invalid_scope(format!(
                "this app may not ask for: {}",
                missing.join(" ")
            ))));
        }
        let code_challenge = params.get("code_challenge").map(str::to_string);
        match (params.get("code_challenge_method"), &code_challenge) {
            (Some(m), _) if m != "S256" => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge_method must be S256; plain is not accepted",
                )));
            }
            (_, Some(c)) if !pkce::is_valid(c) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge must be 43 to 128 characters of base64url",
                )));
            }
            (Some(_), None) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge_method given without code_challenge",
                )));
            }
            _ => {}
        }
        if response_type == ResponseType::Code
            && app.app_type == AppType::Native
            && code_challenge.is_none()
        {
            return Err(fail(OAuthError::invalid_request(
                "native apps must use PKCE (code_challenge with S256)",
            )));
        }
        let dpop_jkt = params.get("dpop_jkt").map(str::to_string);
        if dpop_jkt
            .as_deref()
            .is_some_and(|jkt| !crate::dpop::is_thumbprint(jkt))
        {
            return Err(fail(OAuthError::invalid_request(
                "dpop_jkt must be a JWK SHA-256 thumbprint (43 characters of base64url)",
            )));
        }
        let prompt = parse_prompt(params.get("prompt")).map_err(&fail)?;
        let max_age = params
            .get("max_age")
            .map(|v| {
                v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    OAuthError::invalid_request("max_age must be a non-negative integer")
                })
            })
            .transpose()
            .map_err(&fail)?;
        let resources = crate::grant::parse_resources(params);
        self.resolve_resources(&resources).await.map_err(&fail)?;
        Ok(AuthorizationRequest {
            redirect_uri: redirect_uri.clone(),
            redirect_uri_given,
            response_type,
            scopes,
            state: state.clone(),
            nonce: params.get("nonce").map(str::to_string),
            code_challenge,
            prompt,
            max_age,
            acr_mfa: acr_asks_for_mfa(params.get("acr_values")),
            resources,
            dpop_jkt,
            client,
        })
    }
}

impl<S: Storage> Provider<S> {
    fn redirect_error(&self, req: &AuthorizationRequest, error: OAuthError) -> AuthorizeError {
        let fragment = req.response_type == ResponseType::Token;
        let redirect = ErrorRedirect::new(
            &req.redirect_uri,
            fragment,
            req.state.as_deref(),
            error,
            &self.settings.issuer,
        );
        AuthorizeError::Redirect(Box::new(redirect))
    }

    /// Decides what happens with an authorization request for this (possibly absent) user.
    pub async fn authorization_step(
        &self,
        req: &AuthorizationRequest,
        user: Option<&SignedIn>,
    ) -> Result<Step, AuthorizeError> {
        let user = match user {
            Some(u) if !req.prompt.login && self.fresh_enough(req, u) => u,
            _ if req.prompt.none => {
                return Err(self.redirect_error(
                    req,
                    OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in"),
                ));
            }
            _ => return Ok(Step::Login),
        };
        let orgs = self.eligible_orgs(&user.user_id, &req.client).await?;
        if orgs.is_empty() {
            return Err(self.redirect_error(
                req,
                OAuthError::new(
                    ErrorCode::AccessDenied,
                    "the user is not a member of an organization that uses this app",
                ),
            ));
        }
        let mut needs: Vec<&str> = vec![req.client.app.org_id.as_str()];
        if let [org] = orgs.as_slice() {
            needs.push(&org.org_id);
        }
        if let Some(step) = self
            .second_factor_step(req, user, &needs)
            .await
            .map_err(|e| self.redirect_error(req, e))?
        {
            return Ok(step);
        }
        if let [org] = orgs.as_slice()
            && !req.prompt.consent
        {
            let available = self.scopes_available_in(&req.client, &org.org_id, &req.scopes);
            let consent = self
                .store
                .consent(&user.user_id, &req.client.app.client_id, &org.org_id)
                .await?;
            if let Some(consent) = consent {
                let decided: ScopeSet = consent
                    .approved
                    .iter()
                    .chain(consent.denied.iter())
                    .collect();
                if available.is_subset(&decided) {
                    let mut granted = available.intersection(&consent.approved);
                    if available.contains("openid") {
                        granted.insert("openid");
                    }
                    let location = self
                        .issue_authorization(req, user, &org.org_id, granted)
                        .await?;
                    return Ok(Step::Respond(location));
                }
            }
        }
        if req.prompt.none {
            return Err(self.redirect_error(
                req,
                OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "the user has not approved this app",
                ),
            ));
        }
        let prompt = self
            .consent_prompt(&user.user_id, &req.client, &req.scopes, orgs)
            .await?;
        Ok(Step::Consent(prompt))
    }

    /// Whether the user signed in recently enough for the request's `max_age`.
    fn fresh_enough(&self, req: &AuthorizationRequest, user: &SignedIn) -> bool {
        req.max_age
            .is_none_or(|max| self.clock.now() - user.auth_time <= max)
    }

    /// Applies the user's answer from the approval page: [`Step::Respond`] with where to send
    /// the browser, or [`Step::Login`] when the sign-in grew older than `max_age` allows
    /// while the page was open.
    pub async fn decide(
        &self,
        req: &AuthorizationRequest,
        user: &SignedIn,
        decision: Decision,
    ) -> Result<Step, AuthorizeError> {
        if !self.fresh_enough(req, user) {
            return Ok(Step::Login);
        }
        if !decision.allow {
            return Err(self.redirect_error(
                req,
                OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
            ));
        }
        let (org_id, approved) = self
            .approve(&user.user_id, &req.client, &req.scopes, &decision)
            .await
            .map_err(|e| match e.code {
                ErrorCode::AccessDenied => self.redirect_error(req, e),
                _ => AuthorizeError::Page(e),
            })?;
        // The organization picked on the page may be one that requires a second factor.
        let needs = [req.client.app.org_id.as_str(), org_id.as_str()];
        if let Some(step) = self
            .second_factor_step(req, user, &needs)
            .await
            .map_err(|e| self.redirect_error(req, e))?
        {
            return Ok(step);
        }
        self.issue_authorization(req, user, &org_id, approved)
            .await
            .map(Step::Respond)
    }

    /// Issues the authorization response: a code, or (implicit) an access token.
    async fn issue_authorization(
        &self,
        req: &AuthorizationRequest,
        user: &SignedIn,
        org_id: &str,
        scopes: ScopeSet,
    ) -> Result<String, AuthorizeError> {
        let grant_id = self
            .create_grant(&user.user_id, &req.client, org_id)
            .await
            .map_err(|e| self.redirect_error(req, e))?;
        let issuer = &self.settings.issuer;
        let fragment = req.response_type == ResponseType::Token;
        match req.response_type {
            ResponseType::Code => {
                let code = crate::secret::generate(crate::secret::Kind::AuthorizationCode)
                    .map_err(|e| self.redirect_error(req, e.into()))?;
                let record = crate::store::CodeRecord {
                    code_hash: crate::secret::hash(&code),
                    grant_id,
                    client_id: req.client.app.client_id.clone(),
                    user_id: user.user_id.clone(),
                    org_id: org_id.to_string(),
                    redirect_uri: req.redirect_uri_given.then(|| req.redirect_uri.clone()),
                    scopes,
                    resources: req.resources.clone(),
                    code_challenge: req.code_challenge.clone(),
                    nonce: req.nonce.clone(),
                    auth_time: user.auth_time,
                    method: user.method,
                    expires_at: self.clock.now() + crate::provider::CODE_TTL,
                    dpop_jkt: req.dpop_jkt.clone(),
                };
                self.store.insert_code(&record).await?;
                Ok(redirect_location(
                    &req.redirect_uri,
                    fragment,
                    &[("code", &code)],
                    req.state.as_deref(),
                    issuer,
                ))
            }
            ResponseType::Token => {
                let grant = UserGrant {
                    subject: Subject {
                        sub: user.user_id.clone(),
                        org_id: org_id.to_string(),
                        auth_time: Some(user.auth_time),
                        method: Some(user.method),
                        grant_id: Some(grant_id),
                        // Tokens in a redirect are never DPoP-bound.
                        jkt: None,
                    },
                    scopes,
                    resources: req.resources.clone(),
                    nonce: None,
                };
                let (token, claims) = self
                    .mint_for_grant(&req.client, &grant)
                    .await
                    .map_err(|e| self.redirect_error(req, e))?;
                let expires_in = (claims.exp - claims.iat).to_string();
                Ok(redirect_location(
                    &req.redirect_uri,
                    fragment,
                    &[
                        ("access_token", &token),
                        ("token_type", "Bearer"),
                        ("expires_in", &expires_in),
                        ("scope", &claims.scope),
                    ],
                    req.state.as_deref(),
                    issuer,
                ))
            }
        }
    }
}

impl<S: OrganizationStore + SecondFactorStore + crate::store::PasskeyStore> Provider<S> {
    /// What the user must do first when the sign-in lacks a second factor that the request's
    /// `acr_values` or one of the organizations `org_ids` requires: `None` when nothing.
    async fn second_factor_step(
        &self,
        req: &AuthorizationRequest,
        user: &SignedIn,
        org_ids: &[&str],
    ) -> Result<Option<Step>, OAuthError> {
        if user.method.is_multi_factor() {
            return Ok(None);
        }
        let mut requiring = None;
        for org_id in org_ids {
            if let Some(org) = self.store.organization(org_id).await?
                && org.require_second_factor
            {
                requiring = Some(org);
                break;
            }
        }
        if requiring.is_none() && !req.acr_mfa {
            return Ok(None);
        }
        let enrolled = crate::manage::enrolled(&self.store, &user.user_id).await?;
        if req.prompt.none {
            return Err(OAuthError::new(
                ErrorCode::InteractionRequired,
                "the user must enter a second factor",
            ));
        }
        match requiring {
            _ if enrolled => Ok(Some(Step::SecondFactor)),
            Some(org) => Ok(Some(Step::Enrol { org_name: org.name })),
            None => Err(OAuthError::new(
                ErrorCode::UnmetAuthenticationRequirements,
                "acr_values asks for a second factor, and the user has none set up",
            )),
        }
    }
}

impl<S: Registry + UserStore> Provider<S> {
    /// What the approval page shows `user_id` when `client` asks for `scopes`, the user being
    /// able to act in `orgs`: the code flow's page and the device page alike.
    pub async fn consent_prompt(
        &self,
        user_id: &str,
        client: &Client,
        scopes: &ScopeSet,
        orgs: Vec<Membership>,
    ) -> Result<ConsentPrompt, crate::StoreError> {
        // The organizations the user may pick are those that use this app: a few.
        let mut indexes = Vec::with_capacity(orgs.len());
        for m in &orgs {
            indexes.push(self.store.org_resources(&m.org_id).await?);
        }
        let scopes = scopes
            .iter()
            .map(|s| {
                // The API declaring the scope in the organizations the user may pick.
                let server = indexes
                    .iter()
                    .find_map(|index| index.servers_of(s).into_iter().next());
                let declared = server.and_then(|rs| {
                    rs.scopes
                        .iter()
                        .find(|d| d.name == s)
                        .map(|d| d.description.as_str())
                });
                ScopeChoice {
                    name: s.to_string(),
                    description: crate::scope::describe_builtin(s)
                        .or(declared)
                        .filter(|d| !d.is_empty())
                        .unwrap_or(s)
                        .to_string(),
                    api: server.map(|rs| rs.name.clone()),
                    required: s == "openid",
                }
            })
            .collect();
        let user_email = self
            .store
            .user(user_id)
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        Ok(ConsentPrompt {
            user_email,
            app_name: client.app.name.clone(),
            app_org_name: client.org_name.clone(),
            orgs: orgs.into_iter().map(|m| (m.org_id, m.org_name)).collect(),
            scopes,
        })
    }
}

impl<S: MemberStore + ConsentStore> Provider<S> {
    /// Applies an approval (`decision.allow`) of what `client` asked for, `asked`: the
    /// organization chosen, which must be one the user may use the app in, and the scopes the
    /// app may get there that the user left checked (`openid` always), remembered as the
    /// user's consent. Returns the organization and the scopes granted; `access_denied` when
    /// no usable organization was chosen.
    pub async fn approve(
        &self,
        user_id: &str,
        client: &Client,
        asked: &ScopeSet,
        decision: &Decision,
    ) -> Result<(String, ScopeSet), OAuthError> {
        let orgs = self.eligible_orgs(user_id, client).await?;
        let org = match (&decision.org, orgs.as_slice()) {
            (Some(wanted), _) => orgs.iter().find(|m| &m.org_id == wanted),
            (None, [only]) => Some(only),
            (None, _) => None,
        }
        .ok_or_else(|| OAuthError::new(ErrorCode::AccessDenied, "no organization was chosen"))?;
        let available = self.scopes_available_in(client, &org.org_id, asked);
        let mut approved = available.intersection(&decision.scopes);
        if available.contains("openid") {
            approved.insert("openid");
        }
        let denied: ScopeSet = available.iter().filter(|s| !approved.contains(s)).collect();
        let previous = self
            .store
            .consent(user_id, &client.app.client_id, &org.org_id)
            .await?;
        let (old_approved, old_denied) =
            previous.map(|c| (c.approved, c.denied)).unwrap_or_default();
        let consent = ConsentRecord {
            user_id: user_id.to_string(),
            client_id: client.app.client_id.clone(),
            org_id: org.org_id.clone(),
            approved: old_approved
                .iter()
                .filter(|s| !denied.contains(s))
                .chain(approved.iter())
                .collect(),
            denied: old_denied
                .iter()
                .filter(|s| !approved.contains(s))
                .chain(denied.iter())
                .collect(),
            updated_at: self.clock.now(),
        };
        self.store.put_consent(&consent).await?;
        Ok((org.org_id.clone(), approved))
    }
}

impl<S> Provider<S> {
    /// The scopes of `wanted` this app may get for a user in `org_id`, as things stand now:
    /// the app's scopes, limited (for an organization that added the app from elsewhere) to
    /// those the organization chose. Management scopes never come from a user's sign-in.
    pub fn scopes_available_in(
        &self,
        client: &Client,
        org_id: &str,
        wanted: &ScopeSet,
    ) -> ScopeSet {
        let mut scopes = wanted.intersection(&client.app.scopes);
        scopes.retain(|s| !crate::scope::is_management(s));
        if org_id != client.app.org_id {
            let granted = client.org_grants.iter().find(|g| g.org_id == org_id);
            scopes.retain(|s| {
                crate::scope::is_oidc(s) || granted.is_some_and(|g| g.scopes.contains(s))
            });
        }
        scopes
    }
}

impl<S: MemberStore> Provider<S> {
    /// The organizations `user_id` may use this app in: the app's own (if a member) and
    /// those that added it.
    pub async fn eligible_orgs(
        &self,
        user_id: &str,
        client: &Client,
    ) -> Result<Vec<Membership>, crate::StoreError> {
        Ok(self
            .store
            .memberships_of_user(user_id)
            .await?
            .into_iter()
            .filter(|m| {
                m.org_id == client.app.org_id
                    || client.org_grants.iter().any(|g| g.org_id == m.org_id)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_may_change_port_only() {
        let reg = "http://127.0.0.1/callback";
        assert!(loopback_matches(reg, "http://127.0.0.1:51234/callback"));
        assert!(!loopback_matches(reg, "http://127.0.0.1:51234/other"));
        assert!(!loopback_matches(reg, "http://localhost:51234/callback"));
        assert!(!loopback_matches(reg, "http://u@127.0.0.1:51234/callback"));
        assert!(!loopback_matches(reg, "https://127.0.0.1:51234/callback"));
        assert!(!loopback_matches(
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb"
        ));
    }

    #[test]
    fn error_redirects_keep_the_query_and_carry_state_and_iss() {
        let loc = redirect_location(
            "https://app.example/cb?x=1",
            false,
            &[("code", "abc")],
            Some("s t"),
            "https://issuer",
        );
        assert_eq!(
            loc,
            "https://app.example/cb?x=1&code=abc&state=s+t&iss=https%3A%2F%2Fissuer"
        );
        let loc = redirect_location(
            "https://app.example/cb",
            true,
            &[("access_token", "t")],
            None,
            "https://i",
        );
        assert_eq!(
            loc,
            "https://app.example/cb#access_token=t&iss=https%3A%2F%2Fi"
        );
    }

    #[test]
    fn only_known_acr_values_count_and_any_one_met_is_enough() {
        let mfa = crate::model::ACR_MFA;
        assert!(acr_asks_for_mfa(Some(mfa)));
        assert!(acr_asks_for_mfa(Some(&format!("unknown {mfa}"))));
        assert!(!acr_asks_for_mfa(Some(&format!(
            "{mfa} urn:grantor:acr:pwd"
        ))));
        assert!(!acr_asks_for_mfa(Some("urn:grantor:acr:pwd")));
        assert!(!acr_asks_for_mfa(Some("0 1 2")));
        assert!(!acr_asks_for_mfa(None));
    }

    mod second_factor {
        use super::*;
        use crate::Clock;
        use crate::model::SignInMethod;
        use crate::store::{SecondFactorStore, TotpRecord};
        use crate::testing::{REDIRECT_URI, World, ok};

        async fn request(w: &World, more: &str) -> AuthorizationRequest {
            let client = w.web_app(&["openid"]).await;
            let query = format!(
                "response_type=code&client_id={}&redirect_uri={REDIRECT_URI}&scope=openid&state=s{more}",
                client.app.client_id
            );
            let params = ok(Params::parse(query.as_bytes(), 4096));
            match w.provider.parse_authorization(&params).await {
                Ok(req) => req,
                Err(e) => panic!("{e:?}"),
            }
        }

        fn signed_in(w: &World, method: SignInMethod) -> SignedIn {
            SignedIn {
                user_id: w.member.id.clone(),
                auth_time: w.clock.now(),
                method,
            }
        }

        async fn enrol(w: &World) {
            let record = TotpRecord {
                user_id: w.member.id.clone(),
                sealed_secret: String::new(),
                created_at: 0,
                confirmed_at: None,
                last_step: 0,
            };
            ok(w.store.start_totp(&record).await);
            let audit = crate::model::AuditEvent {
                id: "evt_1".into(),
                at: 0,
                actor: "test".into(),
                action: crate::model::AuditAction::UserEnrolTotp,
                target: w.member.id.clone(),
                org_id: None,
                source: None,
                outcome: crate::model::AuditOutcome::Success,
                details: serde_json::json!({}),
            };
            ok(w.store.confirm_totp(&w.member.id, 1, &[], &audit).await);
        }

        fn error_of(step: Result<Option<Step>, OAuthError>) -> String {
            match step {
                Err(e) => e.code.as_str().to_string(),
                other => panic!("expected an error, got {other:?}"),
            }
        }

        async fn step(
            w: &World,
            req: &AuthorizationRequest,
            user: &SignedIn,
        ) -> Result<Option<Step>, OAuthError> {
            let orgs = [req.client.app.org_id.as_str()];
            w.provider.second_factor_step(req, user, &orgs).await
        }

        #[tokio::test]
        async fn an_organization_rule_asks_for_a_factor_set_up_or_entered() {
            let w = World::new().await;
            let req = request(&w, "").await;
            let pwd = signed_in(&w, SignInMethod::Password);
            let next = ok(step(&w, &req, &pwd).await);
            assert!(next.is_none(), "no rule yet: {next:?}");

            let owner = World::signed_in(&w.owner);
            ok(w.manager
                .set_require_second_factor(&owner, &w.org.name, true)
                .await);
            let next = ok(step(&w, &req, &pwd).await);
            assert!(
                matches!(&next, Some(Step::Enrol { org_name }) if org_name == "acme"),
                "{next:?}"
            );
            let none = request(&w, "&prompt=none").await;
            assert_eq!(
                error_of(step(&w, &none, &pwd).await),
                "interaction_required"
            );

            enrol(&w).await;
            let next = ok(step(&w, &req, &pwd).await);
            assert!(matches!(next, Some(Step::SecondFactor)), "{next:?}");
            let mfa = signed_in(&w, SignInMethod::PasswordAndTotp);
            let next = ok(step(&w, &req, &mfa).await);
            assert!(next.is_none(), "{next:?}");

            let developer = World::signed_in(&w.developer);
            let refused = w
                .manager
                .set_require_second_factor(&developer, &w.org.name, false)
                .await;
            assert!(matches!(refused, Err(crate::ServiceError::Forbidden(_))));
        }

        #[tokio::test]
        async fn acr_values_steps_up_or_fails_without_a_factor() {
            let w = World::new().await;
            let acr = format!("&acr_values={}", crate::model::ACR_MFA);
            let req = request(&w, &acr).await;
            assert!(req.acr_mfa);
            let pwd = signed_in(&w, SignInMethod::Password);
            assert_eq!(
                error_of(step(&w, &req, &pwd).await),
                "unmet_authentication_requirements"
            );
            enrol(&w).await;
            let next = ok(step(&w, &req, &pwd).await);
            assert!(matches!(next, Some(Step::SecondFactor)), "{next:?}");
        }
    }
}
