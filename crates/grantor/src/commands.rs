//! What each command does. Management commands act as the operator (`Actor::Operator`) through
//! the same management service the console and API use; output is JSON on stdout.

use crate::cli::{ApiTokenCommand, KeysCommand};
use crate::cli::{
    AppCommand, Cli, Command, ConfigArgs, KeyArgs, MemberCommand, OrgCommand, ResourceCommand,
    UserCommand,
};
use grantor_core::app_keys::MAX_JWKS_BYTES;
use grantor_core::keyring;
use grantor_core::manage::{Manager, NewApiToken, NewApp};
use grantor_core::model::{AppKeys, Caller, ScopeDefinition};
use grantor_core::store::{KeyStore, Window};
use grantor_core::{Clock, ServiceError, SystemClock};
use grantor_server::api::wire::AppView;
use grantor_server::{Application, Config};
use grantor_store::Store;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// The operator's listings are whole, however long.
const WHOLE: Window = Window::first(usize::MAX);

/// Layers configuration: defaults, then the file, then environment and flags (clap has
/// already preferred a flag over its environment variable).
pub fn load_config(args: &ConfigArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(v) = &args.database_url {
        config.database_url = v.clone();
    }
    if let Some(v) = &args.listen {
        config.listen = v.clone();
    }
    if let Some(v) = &args.issuer {
        config.issuer = Some(v.clone());
    }
    if let Some(v) = &args.key_encryption_key {
        config.key_encryption_key = Some(v.clone());
    }
    if let Some(v) = &args.key_encryption_key_file {
        config.key_encryption_key_file = Some(v.clone());
    }
    if let Some(v) = args.access_token_ttl {
        config.access_token_ttl = v;
    }
    if let Some(v) = args.refresh_token_ttl {
        config.refresh_token_ttl = v;
    }
    if let Some(v) = args.session_ttl {
        config.session_ttl = v;
    }
    if let Some(v) = args.require_par {
        config.require_pushed_authorization_requests = v;
    }
    if let Some(v) = args.require_dpop_nonce {
        config.require_dpop_nonce = v;
    }
    if let Some(v) = args.poll_interval_ms {
        config.poll_interval_ms = v;
    }
    if let Some(v) = args.key_rotation_overlap {
        config.key_rotation_overlap = v;
    }
    if let Some(v) = args.key_retire_after {
        config.key_retire_after = v;
    }
    if let Some(v) = args.key_rotation_interval {
        config.key_rotation_interval = v;
    }
    if let Some(v) = args.header_read_timeout {
        config.header_read_timeout = v;
    }
    if let Some(v) = args.request_timeout {
        config.request_timeout = v;
    }
    if let Some(v) = args.max_connections {
        config.max_connections = v;
    }
    if let Some(v) = args.audit_retention_days {
        config.audit_retention_days = v;
    }
    if let Some(v) = &args.smtp_url {
        config.smtp_url = Some(v.clone());
    }
    if let Some(v) = &args.mail_from {
        config.mail_from = Some(v.clone());
    }
    if !args.trusted_proxies.is_empty() {
        config.trusted_proxies = args.trusted_proxies.clone();
    }
    Ok(config)
}

fn print<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn service(e: ServiceError) -> String {
    match e {
        ServiceError::Unavailable(detail) => format!("storage error: {detail}"),
        other => other.to_string(),
    }
}

/// Resolves on SIGINT or SIGTERM. The SIGTERM handler is installed when this is called, not
/// when first polled: a SIGTERM sent as soon as the server says it listens must drain it, not
/// kill it (the default action).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        match term {
            Some(mut term) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = term.recv() => {},
                }
            }
            None => {
                let _ = interrupt.await;
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("shutting down");
    }
}

pub async fn serve(app: Application) -> Result<(), String> {
    let stop = shutdown_signal();
    tracing::info!(
        "Grantor listening on http://{} (issuer {})",
        app.address(),
        app.issuer()
    );
    app.run(stop).await.map_err(|e| e.to_string())
}

/// The database, migrated: what the CLI's commands work on.
async fn open_store(config: &Config) -> Result<Store, String> {
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(store)
}

async fn manager(config: &Config) -> Result<Manager<Store>, String> {
    let store = open_store(config).await?;
    Ok(Manager::new(
        store,
        Arc::new(SystemClock),
        config.cli_issuer(),
    ))
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

fn parse_scope_definition(arg: &str) -> ScopeDefinition {
    match arg.split_once('=') {
        Some((name, description)) => ScopeDefinition {
            name: name.trim().into(),
            description: description.trim().into(),
        },
        None => ScopeDefinition {
            name: arg.trim().into(),
            description: String::new(),
        },
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let config = load_config(&cli.config)?;
    let op = Caller::operator();
    match cli.command {
        Command::Serve => {
            serve(
                Application::build(config)
                    .await
                    .map_err(|e| e.to_string())?,
            )
            .await
        }
        Command::Demo => crate::demo::run(config).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url)
                .await
                .map_err(|e| format!("cannot open database: {e}"))?;
            let applied = store
                .migrate()
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            eprintln!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Org(OrgCommand::Create { name }) => {
            let org = manager(&config)
                .await?
                .create_organization(&op, &name)
                .await
                .map_err(service)?;
            print(&org)
        }
        Command::Org(OrgCommand::OpenRegistration { org, scopes }) => {
            let ceiling = manager(&config)
                .await?
                .open_registration(
                    &op,
                    &org,
                    scopes.split_whitespace().map(str::to_string).collect(),
                )
                .await
                .map_err(service)?;
            print(&serde_json::json!({"open": true, "scopes": ceiling}))
        }
        Command::Org(OrgCommand::CloseRegistration { org }) => {
            manager(&config)
                .await?
                .close_registration(&op, &org)
                .await
                .map_err(service)?;
            print(&serde_json::json!({"open": false}))
        }
        Command::Org(OrgCommand::List) => print(
            &manager(&config)
                .await?
                .organizations(&op, WHOLE)
                .await
                .map_err(service)?,
        ),
        Command::User(UserCommand::Create {
            email,
            password_stdin: _,
            name,
            platform_admin,
        }) => {
            let password = read_password()?;
            let user = manager(&config)
                .await?
                .create_user(
                    &op,
                    &email,
                    Some(&password),
                    name.as_deref(),
                    platform_admin,
                )
                .await
                .map_err(service)?;
            print(&user)
        }
        Command::User(UserCommand::SetPassword {
            email,
            password_stdin: _,
        }) => {
            let password = read_password()?;
            let user = manager(&config)
                .await?
                .set_password(&op, &email, &password)
                .await
                .map_err(service)?;
            eprintln!(
                "The password is set; {} is signed out everywhere.",
                user.email
            );
            print(&user)
        }
        Command::User(UserCommand::ResetLink { email }) => {
            let (user, token, expires_at) = manager(&config)
                .await?
                .password_reset_link(&op, &email)
                .await
                .map_err(service)?;
            eprintln!(
                "Hand the link to {} only: it sets their password, once, within 30 minutes.",
                user.email
            );
            print(&json!({
                "email": user.email,
                "link": format!("{}/password-reset/{token}", config.cli_issuer()),
                "expires_at": expires_at,
            }))
        }
        Command::User(UserCommand::VerifyEmail { email, off }) => {
            let user = manager(&config)
                .await?
                .set_email_verified(&op, &email, !off)
                .await
                .map_err(service)?;
            print(&json!({
                "email": user.email,
                "email_verified": user.email_verified_at.is_some(),
            }))
        }
        Command::Org(OrgCommand::RequireSecondFactor { org, off }) => {
            let org = manager(&config)
                .await?
                .set_require_second_factor(&op, &org, !off)
                .await
                .map_err(service)?;
            print(&org)
        }
        Command::User(UserCommand::Disable { email }) => {
            set_user_disabled(&config, &op, &email, true).await
        }
        Command::User(UserCommand::Enable { email }) => {
            set_user_disabled(&config, &op, &email, false).await
        }
        Command::Member(MemberCommand::Add { org, user, role }) => {
            let role = grantor_core::manage::role_field(&role).map_err(service)?;
            let m = manager(&config)
                .await?
                .add_member(&op, &org, &user, role)
                .await
                .map_err(service)?;
            print(&m)
        }
        Command::Member(MemberCommand::List { org }) => print(
            &manager(&config)
                .await?
                .members(&op, &org, WHOLE)
                .await
                .map_err(service)?,
        ),
        Command::Member(MemberCommand::Remove { org, user }) => {
            manager(&config)
                .await?
                .remove_member(&op, &org, &user)
                .await
                .map_err(service)?;
            print(&json!({"removed": user, "org": org}))
        }
        Command::Resource(ResourceCommand::Create {
            org,
            identifier,
            name,
            scopes,
        }) => {
            let scopes = scopes.iter().map(|s| parse_scope_definition(s)).collect();
            let rs = manager(&config)
                .await?
                .create_resource_server(&op, &org, &identifier, &name, scopes)
                .await
                .map_err(service)?;
            print(&rs)
        }
        Command::Resource(ResourceCommand::List { org }) => print(
            &manager(&config)
                .await?
                .resource_servers(&op, &org)
                .await
                .map_err(service)?,
        ),
        Command::App(cmd) => app_command(&config, cmd).await,
        Command::ApiToken(cmd) => api_token_command(&config, cmd).await,
        Command::Keys(cmd) => keys_command(&config, cmd).await,
    }
}

async fn set_user_disabled(
    config: &Config,
    op: &Caller,
    email: &str,
    disabled: bool,
) -> Result<(), String> {
    let user = manager(config)
        .await?
        .set_user_disabled(op, email, disabled)
        .await
        .map_err(service)?;
    print(&user)
}

async fn api_token_command(config: &Config, cmd: ApiTokenCommand) -> Result<(), String> {
    let op = Caller::operator();
    let m = manager(config).await?;
    match cmd {
        ApiTokenCommand::Create {
            org,
            user,
            name,
            scopes,
            expires_in,
        } => {
            let new = NewApiToken {
                name,
                scopes,
                expires_in,
            };
            let (token, secret) = m
                .create_api_token(&op, &org, &user, new)
                .await
                .map_err(service)?;
            eprintln!("Store the token now: it is shown only once.");
            print(&json!({"id": token.id, "token": secret, "expires_at": token.expires_at}))
        }
        ApiTokenCommand::List { user } => print(&m.api_tokens(&op, &user).await.map_err(service)?),
        ApiTokenCommand::Revoke { id } => {
            m.revoke_api_token(&op, &id).await.map_err(service)?;
            print(&json!({"revoked": id}))
        }
    }
}

async fn keys_command(config: &Config, cmd: KeysCommand) -> Result<(), String> {
    let store = open_store(config).await?;
    match cmd {
        KeysCommand::Rotate { overlap } => {
            let listen = config
                .listen
                .parse()
                .map_err(|_| format!("listen address {:?} is not host:port", config.listen))?;
            let kek = config
                .key_encryption_key(listen)
                .map_err(|e| e.to_string())?;
            let overlap = overlap.unwrap_or(config.key_rotation_overlap);
            let kids = keyring::rotate(&store, &kek, &SystemClock, overlap)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("New keys are published now and start signing in {overlap} seconds.");
            print(&json!({"kids": kids, "activate_at": SystemClock.now() + overlap.max(0)}))
        }
        KeysCommand::List => {
            let keys = store.keys().await.map_err(|e| e.to_string())?;
            let view: Vec<_> = keys
                .iter()
                .map(|k| json!({"kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "created_at": k.created_at, "activate_at": k.activate_at, "remove_at": k.remove_at}))
                .collect();
            print(&view)
        }
    }
}

/// The keys given on the command line: a JWKS file's contents (bounded before reading) or
/// a URL.
fn app_keys(args: KeyArgs) -> Result<Option<AppKeys>, String> {
    if let Some(uri) = args.jwks_uri {
        return Ok(Some(AppKeys::Uri(uri)));
    }
    let Some(path) = args.jwks_file else {
        return Ok(None);
    };
    let shown = path.display();
    let size = std::fs::metadata(&path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .len();
    if size > MAX_JWKS_BYTES as u64 {
        return Err(format!(
            "{shown} is larger than {MAX_JWKS_BYTES} bytes: a JWKS holds public keys only"
        ));
    }
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(Some(AppKeys::Jwks(doc)))
}

async fn app_command(config: &Config, cmd: AppCommand) -> Result<(), String> {
    let op = Caller::operator();
    let m = manager(config).await?;
    match cmd {
        AppCommand::Create {
            org,
            app_type,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            scopes,
            allow_grants,
            access_token_ttl,
            keys,
            require_par,
        } => {
            let (device, legacy): (Vec<String>, Vec<String>) =
                allow_grants.into_iter().partition(|g| g == "device_code");
            let legacy_grants = legacy
                .iter()
                .map(|g| {
                    g.parse().map_err(|_| {
                        format!("unknown grant {g:?}: expected device_code, password or implicit")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let new = NewApp::new(app_type.parse()?, name)
                .redirect_uris(redirect_uris)
                .post_logout_redirect_uris(post_logout_redirect_uris)
                .scopes(scopes)
                .legacy_grants(legacy_grants)
                .device_grant(!device.is_empty())
                .access_token_ttl(access_token_ttl)
                .keys(app_keys(keys)?)
                .require_par(require_par);
            let created = m.create_app(&op, &org, new).await.map_err(service)?;
            if created.client_secret.is_some() {
                eprintln!("Store the client_secret now: it is shown only once.");
            }
            print(&AppView::with_secret(&created))
        }
        AppCommand::ReplaceKeys { app, keys } => {
            let keys = app_keys(keys)?.ok_or("give --jwks-file or --jwks-uri")?;
            let app = m
                .replace_app_keys(&op, None, &app, keys)
                .await
                .map_err(service)?;
            print(&AppView::new(&app))
        }
        AppCommand::AddToOrg { app, org, scopes } => {
            let grant = m
                .add_app_to_organization(&op, &app, &org, scopes)
                .await
                .map_err(service)?;
            print(&grant)
        }
        AppCommand::RegenerateSecret { app, grace_seconds } => {
            let regenerated = m
                .regenerate_secret(&op, None, &app, grace_seconds)
                .await
                .map_err(service)?;
            eprintln!("Store the new client_secret now: it is shown only once.");
            print(&json!({
                "client_id": regenerated.app.client_id,
                "client_secret": regenerated.client_secret,
                "previous_secret_valid_until": regenerated.previous_secret_valid_until,
            }))
        }
        AppCommand::List { org } => {
            let apps = m.apps(&op, &org, WHOLE).await.map_err(service)?;
            print(&apps.iter().map(AppView::new).collect::<Vec<_>>())
        }
        AppCommand::Delete { client_id } => {
            m.delete_app(&op, None, &client_id).await.map_err(service)?;
            print(&json!({"deleted": client_id}))
        }
        AppCommand::Show { client_id } => {
            let (app, grants) = m.app(&op, None, &client_id).await.map_err(service)?;
            print(&AppView::with_organizations(&app, grants))
        }
    }
}
