//! `trading serve`: the Trading API. `trading login`: a command-line client that signs in the
//! way native apps should (authorization code + PKCE through a loopback redirect, RFC 8252; or
//! with `--device`, the device grant of RFC 8628, for a terminal with no browser at hand) and
//! lists the orders.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use clap::{Parser, Subcommand};
use grantor_core::pkce;
use grantor_resource::Validator;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

#[derive(Parser)]
#[command(
    name = "trading",
    about = "Trading 1.0: an API protected by Grantor, and its command-line client"
)]
struct Cli {
    /// Grantor's issuer URL.
    #[arg(long, env = "GRANTOR_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Trading API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Validate tokens by introspection with this app's credentials (immediate revocation).
        #[arg(long, requires = "introspection_secret")]
        introspection_client_id: Option<String>,
        #[arg(long, env = "TRADING_INTROSPECTION_SECRET", hide_env_values = true)]
        introspection_secret: Option<String>,
        /// Where clients reach the API, as DPoP proofs name it [default: http:// + the bound
        /// address].
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Sign in with a native app (PKCE, loopback redirect) and list the orders.
    Login {
        /// The native app's client ID.
        #[arg(long)]
        client_id: String,
        /// The Trading API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        api: String,
        /// Sign in on another device: show a code to enter at Grantor's /device page
        /// (the app must have the device grant enabled).
        #[arg(long)]
        device: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            introspection_client_id,
            introspection_secret,
            public_url,
        } => {
            serve(
                &cli.issuer,
                &listen,
                introspection_client_id.zip(introspection_secret),
                public_url,
            )
            .await
        }
        Command::Login {
            client_id,
            api,
            device,
        } => login(&cli.issuer, &client_id, &api, device).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    issuer: &str,
    listen: &str,
    introspection: Option<(String, String)>,
    public_url: Option<String>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // DPoP-bound tokens come with proofs naming the URL the client called.
    let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let mut config = trading_example::config(issuer).with_public_url(&public_url);
    if let Some((id, secret)) = introspection {
        config = config.with_introspection(&id, &secret, std::time::Duration::from_secs(5));
    }
    eprintln!("Trading API listening on http://{addr} (tokens from {issuer})");
    axum::serve(listener, trading_example::router(Validator::new(config)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

type Callback = Arc<Mutex<Option<oneshot::Sender<HashMap<String, String>>>>>;

async fn callback(
    State(tx): State<Callback>,
    Query(params): Query<HashMap<String, String>>,
) -> &'static str {
    if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
        let _ = tx.send(params);
    }
    "Signed in. You can close this tab and return to the terminal.\n"
}

/// What the client asks for.
const SCOPES: &str = "openid trades:read trades:write";

async fn login(issuer: &str, client_id: &str, api: &str, device: bool) -> Result<(), String> {
    let http = reqwest::Client::new();
    let meta: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("discovery failed: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = |name: &str| {
        meta[name]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("discovery lacks {name}"))
    };
    let token_endpoint = endpoint("token_endpoint")?;
    let tokens = if device {
        let device_endpoint = endpoint("device_authorization_endpoint")?;
        device_login(&http, &device_endpoint, &token_endpoint, client_id).await?
    } else {
        let authorize = endpoint("authorization_endpoint")?;
        browser_login(&http, issuer, &authorize, &token_endpoint, client_id).await?
    };
    let access_token = tokens["access_token"]
        .as_str()
        .ok_or_else(|| format!("no token: {tokens}"))?;
    let orders: serde_json::Value = http
        .get(format!("{api}/orders"))
        .bearer_auth(access_token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("the Trading API refused: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&orders).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// The device grant (RFC 8628): shows where to go and the code to type, then polls the
/// token endpoint at the pace Grantor asks until the person has answered.
async fn device_login(
    http: &reqwest::Client,
    device_endpoint: &str,
    token_endpoint: &str,
    client_id: &str,
) -> Result<serde_json::Value, String> {
    let started: serde_json::Value = http
        .post(device_endpoint)
        .form(&[("client_id", client_id), ("scope", SCOPES)])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let field = |name: &str| {
        started[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the device authorization failed: {started}"))
    };
    let device_code = field("device_code")?;
    eprintln!(
        "To sign in, open {} on any device and enter the code {}, or open this address:",
        field("verification_uri")?,
        field("user_code")?
    );
    eprintln!("{}", field("verification_uri_complete")?);
    let mut interval = started["interval"].as_u64().unwrap_or(5);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        let answer: serde_json::Value = http
            .post(token_endpoint)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device_code),
                ("client_id", client_id),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match answer["error"].as_str() {
            None => return Ok(answer),
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            Some(error) => {
                return Err(format!(
                    "sign-in failed: {error}: {}",
                    answer["error_description"].as_str().unwrap_or_default()
                ));
            }
        }
    }
}

/// The authorization code flow with PKCE through a loopback redirect (RFC 8252).
async fn browser_login(
    http: &reqwest::Client,
    issuer: &str,
    authorize: &str,
    token_endpoint: &str,
    client_id: &str,
) -> Result<serde_json::Value, String> {
    // A loopback listener on any free port; Grantor accepts any port for native apps.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let redirect_uri = format!(
        "http://{}/callback",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let (tx, rx) = oneshot::channel();
    let app = Router::new()
        .route("/callback", get(callback))
        .with_state(Arc::new(Mutex::new(Some(tx))));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let verifier = pkce::new_verifier().map_err(|e| e.to_string())?;
    let state = pkce::new_verifier().map_err(|e| e.to_string())?;
    let mut url = url::Url::parse(authorize).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce::challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    eprintln!("Open this address in your browser to sign in:\n{url}");

    let params = rx
        .await
        .map_err(|_| "the sign-in was abandoned".to_string())?;
    server.abort();
    if params.get("state") != Some(&state) {
        return Err("the answer's state does not match: ignoring it".into());
    }
    if params.get("iss").map(String::as_str) != Some(issuer) {
        return Err("the answer does not come from the expected issuer".into());
    }
    if let Some(error) = params.get("error") {
        return Err(format!(
            "sign-in failed: {error}: {}",
            params.get("error_description").cloned().unwrap_or_default()
        ));
    }
    let code = params.get("code").ok_or("the answer has no code")?;
    http.post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}
