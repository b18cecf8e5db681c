//! Server configuration. The binary layers it: flags, then `GRANTOR_*` environment, then the
//! TOML file, then these defaults.

use crate::StartupError;
use grantor_core::jose::KeyEncryptionKey;
use grantor_core::keyring::RotationPolicy;
use grantor_core::provider::Settings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The issuer identifier; defaults to `http://` + the bound address.
    pub issuer: Option<String>,
    /// A SQLite file path, a `sqlite:` URL, or a `postgres://` URL.
    pub database_url: String,
    /// Base64 of 32 random bytes that encrypts private signing keys at rest.
    pub key_encryption_key: Option<String>,
    /// A file holding the key-encryption key.
    pub key_encryption_key_file: Option<PathBuf>,
    /// Default access-token lifetime in seconds.
    pub access_token_ttl: i64,
    /// Refresh-token lifetime in seconds; each rotation starts a new period.
    pub refresh_token_ttl: i64,
    /// How long a sign-in at the login page lasts, in seconds.
    pub session_ttl: i64,
    /// Refuse authorization requests that did not come through `POST /oauth2/par`
    /// (RFC 9126 5), for every app.
    pub require_pushed_authorization_requests: bool,
    /// Require every DPoP proof to carry a server nonce (RFC 9449 8), sent in `DPoP-Nonce`.
    pub require_dpop_nonce: bool,
    /// How often each node checks for configuration changes, in milliseconds.
    pub poll_interval_ms: u64,
    /// Seconds a new signing key is published before it signs.
    pub key_rotation_overlap: i64,
    /// Seconds a retired key stays published (longer than any token it signed lives).
    pub key_retire_after: i64,
    /// Rotate signing keys automatically when they are this many seconds old; 0 turns it off.
    pub key_rotation_interval: i64,
    /// Addresses of load balancers whose `X-Forwarded-For` header is believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a request's line and headers (and an idle keep-alive
    /// connection to start its next request).
    pub header_read_timeout: u64,
    /// Seconds a whole request, body included, may take: past it a request whose body is
    /// still arriving is answered 408, any other 503.
    pub request_timeout: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Days audit events are kept; 0 keeps them for ever.
    pub audit_retention_days: u64,
    /// The mail server: `smtp://host:port`, `smtp://user:password@host:587?tls=starttls` or
    /// `smtps://user:password@host:465`. Without it a loopback issuer writes mail to the log
    /// and any other sends none.
    pub smtp_url: Option<String>,
    /// Who messages come from, such as `Grantor <noreply@example.com>`; needed with `smtp_url`.
    pub mail_from: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            issuer: None,
            database_url: "grantor.db".into(),
            key_encryption_key: None,
            key_encryption_key_file: None,
            access_token_ttl: 900,
            refresh_token_ttl: 30 * 24 * 3600,
            session_ttl: 12 * 3600,
            require_pushed_authorization_requests: false,
            require_dpop_nonce: false,
            poll_interval_ms: 250,
            key_rotation_overlap: RotationPolicy::default().overlap,
            key_retire_after: RotationPolicy::default().retire_after,
            key_rotation_interval: 0,
            trusted_proxies: Vec::new(),
            header_read_timeout: 10,
            request_timeout: 30,
            max_connections: 4096,
            audit_retention_days: 0,
            smtp_url: None,
            mail_from: None,
        }
    }
}

/// By hand: the key-encryption key, and the passwords a database or mail URL may hold, never
/// reach a log or a failed assertion's message.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |set: bool| if set { "<hidden>" } else { "<none>" };
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("issuer", &self.issuer)
            .field("database_url", &without_password(&self.database_url))
            .field(
                "key_encryption_key",
                &hidden(self.key_encryption_key.is_some()),
            )
            .field("key_encryption_key_file", &self.key_encryption_key_file)
            .field("smtp_url", &self.smtp_url.as_deref().map(without_password))
            .field("mail_from", &self.mail_from)
            .finish_non_exhaustive()
    }
}

/// A URL with its password, if any, replaced; what does not parse as a URL (a file path) is
/// shown whole.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only URLs that cannot have a password refuse this, and this one has one.
            let _ = parsed.set_password(Some("hidden"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

pub fn is_loopback_http(issuer: &str) -> bool {
    url::Url::parse(issuer).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

impl Config {
    pub fn trusted_proxies(&self) -> Result<std::sync::Arc<[std::net::IpAddr]>, StartupError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.trim()
                    .parse()
                    .map_err(|_| StartupError(format!("trusted proxy {p:?} is not an IP address")))
            })
            .collect()
    }

    /// Seconds audit events are kept, if not for ever.
    pub fn audit_retention(&self) -> Option<i64> {
        let days = i64::try_from(self.audit_retention_days).ok()?;
        (days > 0).then(|| days.saturating_mul(86_400))
    }

    pub fn connection_limits(&self) -> crate::serve::ConnectionLimits {
        crate::serve::ConnectionLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout.max(1)),
            request_timeout: std::time::Duration::from_secs(self.request_timeout.max(1)),
            max_connections: self.max_connections.max(1),
        }
    }

    /// The protocol engine's settings, once the issuer is known.
    pub fn provider_settings(&self, issuer: &str) -> Result<Settings, StartupError> {
        for (name, value) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("session_ttl", self.session_ttl),
        ] {
            if value < 60 {
                return Err(StartupError(format!(
                    "{name} is {value}; lifetimes are at least 60 seconds"
                )));
            }
        }
        Ok(Settings {
            issuer: issuer.trim_end_matches('/').to_string(),
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            session_ttl: self.session_ttl,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            // Set by the server from the key-encryption key when `require_dpop_nonce` is on.
            dpop_nonces: None,
        })
    }

    /// How mail is sent, checked at start-up: a bad `smtp_url` or `mail_from` stops the
    /// server with a message saying what to fix.
    pub fn mail_settings(&self, issuer: &str) -> Result<crate::mail::MailSettings, StartupError> {
        crate::mail::MailSettings::new(self.smtp_url.as_deref(), self.mail_from.as_deref(), issuer)
            .map_err(StartupError)
    }

    pub fn rotation_policy(&self) -> RotationPolicy {
        RotationPolicy {
            overlap: self.key_rotation_overlap.max(0),
            retire_after: self.key_retire_after.max(0),
            interval: (self.key_rotation_interval > 0).then_some(self.key_rotation_interval),
        }
    }

    /// Where a generated development key-encryption key lives: beside the SQLite file, or in
    /// the working directory for PostgreSQL.
    fn generated_kek_path(&self) -> PathBuf {
        let (backend, _) = grantor_store::pool::database_url(&self.database_url);
        match backend {
            grantor_store::Backend::Sqlite if !self.database_url.starts_with("sqlite:") => {
                PathBuf::from(format!("{}.kek", self.database_url))
            }
            _ => PathBuf::from("grantor.kek"),
        }
    }

    /// The issuer as the CLI, which binds no address, takes it: the configured one, or the
    /// default a server on the configured `listen` address would use.
    pub fn cli_issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// Resolves the key-encryption key: configured inline, from a file, or, for a loopback
    /// `http` issuer only, generated into a file with a warning.
    pub fn key_encryption_key(&self, listen: SocketAddr) -> Result<KeyEncryptionKey, StartupError> {
        if let Some(inline) = &self.key_encryption_key {
            return KeyEncryptionKey::parse(inline).map_err(StartupError);
        }
        if let Some(path) = &self.key_encryption_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                StartupError(format!(
                    "cannot read key_encryption_key_file {}: {e}",
                    path.display()
                ))
            })?;
            return KeyEncryptionKey::parse(&text).map_err(StartupError);
        }
        let issuer = self
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"));
        if !is_loopback_http(&issuer) {
            return Err(StartupError(
                "no key-encryption key is configured. Set GRANTOR_KEY_ENCRYPTION_KEY to the base64 of 32 random bytes \
                 (for example the output of `openssl rand -base64 32`), or key_encryption_key_file in the config file"
                    .into(),
            ));
        }
        let path = self.generated_kek_path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            return KeyEncryptionKey::parse(&text).map_err(StartupError);
        }
        let encoded =
            KeyEncryptionKey::generate_encoded().map_err(|e| StartupError(e.to_string()))?;
        write_private_file(&path, &encoded).map_err(|e| {
            StartupError(format!(
                "cannot write key-encryption key to {}: {e}",
                path.display()
            ))
        })?;
        tracing::warn!(
            path = %path.display(),
            "generated a development key-encryption key; configure key_encryption_key before using a non-loopback issuer"
        );
        KeyEncryptionKey::parse(&encoded).map_err(StartupError)
    }
}

fn write_private_file(path: &PathBuf, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn debug_output_hides_keys_and_passwords() {
        let config = Config {
            database_url: "postgres://grantor:db-secret@db.internal/grantor".into(),
            key_encryption_key: Some("a2V5LWVuY3J5cHRpb24ta2V5LXZhbHVlLTMyYnl0ZXM=".into()),
            smtp_url: Some("smtps://mailer:mail-secret@smtp.example:465".into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        for secret in ["db-secret", "mail-secret", "a2V5LWVuY3J5cHRpb24"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("db.internal"), "{printed}");
        assert!(printed.contains("smtp.example"), "{printed}");
    }
}
