//! `grantor demo`: a server on a fresh database with a demo organization to try things on.

use crate::commands::serve;
use grantor_core::manage::{AppWithSecret, Manager, NewApp};
use grantor_core::model::{AppType, Caller, Role, ScopeDefinition};
use grantor_core::secret;
use grantor_server::{Application, Config};
use grantor_store::Store;

const ORG: &str = "demo";
const OWNER: &str = "owner@demo.example";
const TRADING: &str = "https://trading.example.com";

fn app(app_type: AppType, name: &str, redirect_uris: &[&str]) -> NewApp {
    let scopes = [
        "trades:read",
        "trades:write",
        "openid",
        "profile",
        "email",
        "offline_access",
    ]
    .into_iter()
    .filter(|s| app_type != AppType::Server || s.starts_with("trades:"));
    NewApp::new(app_type, name)
        .redirect_uris(redirect_uris.iter().copied())
        .scopes(scopes)
}

struct Seeded {
    password: String,
    server: AppWithSecret,
    web: AppWithSecret,
    native: AppWithSecret,
}

async fn seed(m: &Manager<Store>) -> Result<Seeded, String> {
    let op = Caller::operator();
    let e = |e: grantor_core::ServiceError| e.to_string();
    m.create_organization(&op, ORG).await.map_err(e)?;
    // 64 random bits, written as 16 hex digits: easy to type, hard to guess.
    let password = secret::new_id("").map_err(|e| e.to_string())?[..16].to_string();
    m.create_user(&op, OWNER, Some(&password), Some("Demo Owner"), false)
        .await
        .map_err(e)?;
    m.add_member(&op, ORG, OWNER, Role::Owner)
        .await
        .map_err(e)?;
    let scopes = vec![
        ScopeDefinition {
            name: "trades:read".into(),
            description: "See your trades and orders".into(),
        },
        ScopeDefinition {
            name: "trades:write".into(),
            description: "Place orders for you".into(),
        },
    ];
    m.create_resource_server(&op, ORG, TRADING, "Trading API", scopes)
        .await
        .map_err(e)?;
    let server = m
        .create_app(&op, ORG, app(AppType::Server, "Trading bot", &[]))
        .await
        .map_err(e)?;
    m.add_app_to_organization(
        &op,
        &server.app.client_id,
        ORG,
        vec!["trades:read".into(), "trades:write".into()],
    )
    .await
    .map_err(e)?;
    let web = m
        .create_app(
            &op,
            ORG,
            app(
                AppType::Web,
                "Trading web",
                &["http://127.0.0.1:9000/callback"],
            ),
        )
        .await
        .map_err(e)?;
    let native = m
        .create_app(
            &op,
            ORG,
            app(
                AppType::Native,
                "Trading CLI",
                &["http://127.0.0.1/callback"],
            )
            // For `trading login --device`.
            .device_grant(true),
        )
        .await
        .map_err(e)?;
    Ok(Seeded {
        password,
        server,
        web,
        native,
    })
}

pub async fn run(mut config: Config) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("grantor-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    config.database_url = dir.join("grantor.db").display().to_string();
    let application = Application::build(config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let state = application.state();
    let seeded = seed(&state.manager).await?;
    let issuer = application.issuer().to_string();
    let (id, sec) = (
        &seeded.server.app.client_id,
        seeded.server.client_secret.as_deref().unwrap_or_default(),
    );
    println!(
        r#"
Grantor demo is running at {issuer}
Database: {db}   (inspect it: grantor --database-url {db} app list --org {ORG})

Organization "{ORG}", owner {OWNER} / password {password}

Console:          {issuer}/console   (sign in as {OWNER} / password {password})
Your account:     {issuer}/account   (change your password there)
Password reset:   {issuer}/password-reset   (with no smtp_url, the demo writes mail to this log)
Resource server {TRADING} with scopes trades:read, trades:write

Server-to-server app (added to the org):  app ID {id}
                                          app secret {sec}
Web app:     app ID {web_id}  secret {web_sec}  redirect URI http://127.0.0.1:9000/callback
Native app:  app ID {native_id}  (public, PKCE; device grant)  redirect URI http://127.0.0.1/callback (any port)

Get a token with client credentials, then introspect it:

  TOKEN=$(curl -s -u '{id}:{sec}' -d grant_type=client_credentials {issuer}/oauth2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s -u '{id}:{sec}' -d "token=$TOKEN" {issuer}/oauth2/introspect

Discovery: {issuer}/.well-known/openid-configuration     Stop with Ctrl-C.
"#,
        db = dir.join("grantor.db").display(),
        password = seeded.password,
        web_id = seeded.web.app.client_id,
        web_sec = seeded.web.client_secret.as_deref().unwrap_or_default(),
        native_id = seeded.native.app.client_id,
    );
    serve(application).await
}
