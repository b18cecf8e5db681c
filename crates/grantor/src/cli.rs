//! The command line. Its commands and their JSON output keys are a contract.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "grantor",
    version,
    about = "OAuth 2.0 and OpenID Connect authorization server with organizations"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Configuration: flags win over `GRANTOR_*` environment variables, which win over the file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "GRANTOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// SQLite file path, `sqlite:` URL or `postgres://` URL [default: grantor.db]
    #[arg(long, global = true, env = "GRANTOR_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "GRANTOR_LISTEN")]
    pub listen: Option<String>,
    /// Issuer identifier [default: http:// + the listen address]
    #[arg(long, global = true, env = "GRANTOR_ISSUER")]
    pub issuer: Option<String>,
    /// Base64 of 32 random bytes that encrypts signing keys at rest.
    #[arg(
        long,
        global = true,
        env = "GRANTOR_KEY_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub key_encryption_key: Option<String>,
    /// File holding the key-encryption key.
    #[arg(long, global = true, env = "GRANTOR_KEY_ENCRYPTION_KEY_FILE")]
    pub key_encryption_key_file: Option<PathBuf>,
    /// Default access-token lifetime, seconds [default: 900]
    #[arg(long, global = true, env = "GRANTOR_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<i64>,
    /// Refresh-token lifetime, seconds; each rotation starts a new period [default: 2592000]
    #[arg(long, global = true, env = "GRANTOR_REFRESH_TOKEN_TTL")]
    pub refresh_token_ttl: Option<i64>,
    /// How long a sign-in lasts, seconds [default: 43200]
    #[arg(long, global = true, env = "GRANTOR_SESSION_TTL")]
    pub session_ttl: Option<i64>,
    /// Refuse authorization requests not pushed first to /oauth2/par (RFC 9126) [default: false]
    #[arg(long = "require-par", global = true, env = "GRANTOR_REQUIRE_PAR")]
    pub require_par: Option<bool>,
    /// Require a server nonce in every DPoP proof (RFC 9449 8) [default: false]
    #[arg(long, global = true, env = "GRANTOR_REQUIRE_DPOP_NONCE")]
    pub require_dpop_nonce: Option<bool>,
    /// How often each node checks for configuration changes, ms [default: 250]
    #[arg(long, global = true, env = "GRANTOR_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// Seconds a new signing key is published before it signs [default: 600]
    #[arg(long, global = true, env = "GRANTOR_KEY_ROTATION_OVERLAP")]
    pub key_rotation_overlap: Option<i64>,
    /// Seconds a retired key stays published [default: 86700]
    #[arg(long, global = true, env = "GRANTOR_KEY_RETIRE_AFTER")]
    pub key_retire_after: Option<i64>,
    /// A load balancer whose X-Forwarded-For is believed (repeat, or comma-separate in the env)
    #[arg(
        long = "trusted-proxy",
        global = true,
        env = "GRANTOR_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a request's line and headers [default: 10]
    #[arg(long, global = true, env = "GRANTOR_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a whole request may take before it is answered 408 (body still arriving) or 503 [default: 30]
    #[arg(long, global = true, env = "GRANTOR_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,
    /// Connections served at once [default: 4096]
    #[arg(long, global = true, env = "GRANTOR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Rotate signing keys automatically at this age in seconds; 0 is off [default: 0]
    #[arg(long, global = true, env = "GRANTOR_KEY_ROTATION_INTERVAL")]
    pub key_rotation_interval: Option<i64>,
    /// Mail server: smtp://host:port, smtp://user:password@host:587?tls=starttls or smtps://user:password@host:465
    #[arg(long, global = true, env = "GRANTOR_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Who mail comes from, such as "Grantor <noreply@example.com>" (needed with smtp_url)
    #[arg(long, global = true, env = "GRANTOR_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Days audit events are kept; 0 keeps them for ever [default: 0]
    #[arg(long, global = true, env = "GRANTOR_AUDIT_RETENTION_DAYS")]
    pub audit_retention_days: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Run the server on a fresh database seeded with a demo organization.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Organization members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Resource servers (APIs) and their scopes.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// OAuth apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Users' API tokens (exchanged at the token endpoint for access tokens).
    #[command(subcommand)]
    ApiToken(ApiTokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Make an API token for a member; prints the token once.
    Create {
        #[arg(long)]
        org: String,
        /// The member's email.
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Seconds until it expires [default: 90 days; at most a year]
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// List a user's API tokens (never the tokens themselves).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke an API token by its id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start a rotation: new keys are published now and sign after the overlap.
    Rotate {
        /// Seconds the new keys are published before they sign [default: key_rotation_overlap]
        #[arg(long)]
        overlap: Option<i64>,
    },
    /// List signing keys and their states.
    List,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List organizations.
    List,
    /// Open the organization to dynamic registration of native apps without an initial
    /// access token (RFC 7591), such apps asking for at most these scopes.
    OpenRegistration {
        #[arg(long)]
        org: String,
        /// Space-separated scopes of the organization's resource servers.
        #[arg(long)]
        scopes: String,
    },
    /// Close the organization to registration without an initial access token.
    CloseRegistration {
        #[arg(long)]
        org: String,
    },
    /// Require a second factor (TOTP) to sign in to the organization's apps, use its console
    /// and exchange its API tokens; `--off` stops requiring it.
    RequireSecondFactor {
        #[arg(long)]
        org: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        platform_admin: bool,
    },
    /// Set a user's password, read from standard input; signs them out everywhere.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Make a single-use link (valid 30 minutes) that sets a new password, to hand over.
    ResetLink {
        #[arg(long)]
        email: String,
    },
    /// Disable an account: it cannot sign in, refresh, exchange API tokens or call the API.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Mark a user's email verified (the operator vouches for it); `--off` marks it unverified.
    VerifyEmail {
        #[arg(long)]
        email: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to an organization (or change their role).
    Add {
        #[arg(long)]
        org: String,
        /// The user's email.
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
    /// List an organization's members.
    List {
        #[arg(long)]
        org: String,
    },
    /// Take a user out of an organization.
    Remove {
        #[arg(long)]
        org: String,
        /// The user's email.
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Create a resource server with its scopes.
    Create {
        #[arg(long)]
        org: String,
        /// Audience URI, e.g. https://trading.example.com
        #[arg(long)]
        identifier: String,
        #[arg(long)]
        name: String,
        /// NAME or NAME=DESCRIPTION; repeat for each scope.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List an organization's resource servers.
    List {
        #[arg(long)]
        org: String,
    },
}

/// Public keys instead of a secret: the app authenticates with signed assertions
/// (private_key_jwt, RFC 7523) and gets no secret at all.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct KeyArgs {
    /// A JWKS file of the app's public keys (ES256 or RS256; at most 10 keys, 16 KiB).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// An https URL serving the app's JWKS, fetched and cached by the server.
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app; prints its app ID and (confidential apps) its secret, once.
    Create {
        #[arg(long)]
        org: String,
        /// server, web or native
        #[arg(long = "type")]
        app_type: String,
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Enable a grant the app's type does not have by default: device_code (RFC 8628),
        /// or the legacy password or implicit.
        #[arg(long = "allow-grant")]
        allow_grants: Vec<String>,
        /// Access-token lifetime for this app, seconds.
        #[arg(long)]
        access_token_ttl: Option<i64>,
        #[command(flatten)]
        keys: KeyArgs,
        /// Refuse this app's authorization requests that were not pushed to /oauth2/par
        /// (RFC 9126). (`--require-par` is the installation's setting, for every app.)
        #[arg(long = "require-pushed-requests")]
        require_par: bool,
    },
    /// Replace the public keys of an app that authenticates with private_key_jwt.
    ReplaceKeys {
        #[arg(long)]
        app: String,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Let a server app get tokens in an organization, with the chosen scopes.
    AddToOrg {
        #[arg(long)]
        app: String,
        #[arg(long)]
        org: String,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Issue a new app secret; the old one stops working at once (or after a grace period).
    RegenerateSecret {
        #[arg(long)]
        app: String,
        #[arg(long, default_value_t = 0)]
        grace_seconds: i64,
    },
    /// List an organization's apps.
    List {
        #[arg(long)]
        org: String,
    },
    /// Show one app and the organizations it was added to.
    Show { client_id: String },
    /// Delete an app, with its tokens, approvals and organization access.
    Delete { client_id: String },
}
