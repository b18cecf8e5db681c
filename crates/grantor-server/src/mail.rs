//! Mail, off the request path. A page hands a message to [`Mailer::send`], which only puts it
//! in a bounded queue; a background task delivers it over SMTP (lettre), retrying a few times
//! with growing pauses when the server is down or answers "try later". A mail server that is
//! down is a logged warning, never an error page, and a full queue drops the message with a
//! warning rather than make a page wait.
//!
//! Without `smtp_url` a development issuer (plain-http loopback, the demo) writes each
//! message to the log instead, clearly marked; any other issuer has no mail, and says so.

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting to be sent; past this, new ones are dropped with a warning.
const QUEUE: usize = 1024;
/// Tries per message, the first included.
const ATTEMPTS: u32 = 3;
/// The pause before the second try; it doubles before each further one.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// How long one SMTP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text, for a relay on the same host or network.
    Plain,
    /// `smtp://...?tls=starttls`: plain text upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// `smtps://`: TLS from the first byte (port 465).
    Tls,
}

/// Where mail goes: `smtp_url`, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    password: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

const URL_FORMS: &str = "smtp://host:port, smtp://user:password@host:587?tls=starttls or smtps://user:password@host:465";

impl SmtpServer {
    /// Parses `smtp_url`. The error never repeats the URL, which may hold a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("smtp_url {why}; it takes the forms {URL_FORMS}");
        let url = url::Url::parse(text.trim()).map_err(|_| bad("is not a URL"))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad("has a user or password that is not UTF-8"))
        };
        let mut security = match url.scheme() {
            "smtp" => Security::Plain,
            "smtps" => Security::Tls,
            other => return Err(bad(&format!("has the scheme {other:?}"))),
        };
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref(), security) {
                ("tls", "starttls", Security::Plain) => security = Security::StartTls,
                ("tls", _, Security::Tls) => {
                    return Err(bad("is smtps:// (TLS already) and also names tls="));
                }
                ("tls", other, _) => {
                    return Err(bad(&format!(
                        "has tls={other:?}; the only value is starttls"
                    )));
                }
                (other, _, _) => {
                    return Err(bad(&format!("has the unknown parameter {other:?}")));
                }
            }
        }
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(bad("has a path; it names only a server"));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad("names no host")),
        };
        let port = url.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        });
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && user.is_none() {
            return Err(bad("has a password but no user"));
        }
        if user.is_some() && security == Security::Plain {
            return Err(bad(
                "would send its password in plain text: use smtps:// or add ?tls=starttls",
            ));
        }
        Ok(Self {
            host,
            port,
            security,
            user,
            password,
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let tls = || {
            TlsParameters::new(self.host.clone())
                .map_err(|e| format!("TLS for the mail server {}: {e}", self.host))
        };
        let tls = match self.security {
            Security::Plain => Tls::None,
            Security::StartTls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT));
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

/// How this server sends mail, decided at start-up.
#[derive(Debug, Clone)]
pub enum MailSettings {
    Smtp {
        server: SmtpServer,
        from: Mailbox,
    },
    /// No `smtp_url`, a development issuer: messages go to the log.
    Log,
    /// No `smtp_url`: no mail.
    Off,
}

impl MailSettings {
    /// Checks `smtp_url` and `mail_from` together, for the issuer `issuer`.
    pub fn new(
        smtp_url: Option<&str>,
        mail_from: Option<&str>,
        issuer: &str,
    ) -> Result<Self, String> {
        let from = mail_from
            .map(|f| {
                f.trim().parse::<Mailbox>().map_err(|_| {
                    format!(
                        "mail_from {f:?} is not an address messages can come from, such as \
                         \"Grantor <noreply@example.com>\" or noreply@example.com"
                    )
                })
            })
            .transpose()?;
        match (smtp_url.filter(|u| !u.trim().is_empty()), from) {
            (Some(url), Some(from)) => Ok(Self::Smtp {
                server: SmtpServer::parse(url)?,
                from,
            }),
            (Some(_), None) => Err(
                "smtp_url is set but mail_from is not: set GRANTOR_MAIL_FROM to the address \
                 messages come from, such as \"Grantor <noreply@example.com>\""
                    .into(),
            ),
            (None, _) if crate::config::is_loopback_http(issuer) => Ok(Self::Log),
            (None, _) => Ok(Self::Off),
        }
    }
}

/// A message for one person, in plain text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail in the background; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    queue: Option<mpsc::Sender<Message>>,
    from: Option<Mailbox>,
    /// The host in each message's id: the issuer's.
    domain: String,
    log_only: bool,
}

impl Mailer {
    /// Starts the delivery task (with SMTP settings); must run inside the runtime.
    pub fn start(settings: MailSettings, issuer: &str) -> Result<Self, String> {
        let domain = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "grantor.invalid".into());
        Ok(match settings {
            MailSettings::Smtp { server, from } => {
                let transport = server.transport()?;
                let (queue, waiting) = mpsc::channel(QUEUE);
                tokio::spawn(deliver(transport, waiting));
                tracing::info!(host = %server.host, port = server.port, security = ?server.security, "mail goes through SMTP");
                Self {
                    queue: Some(queue),
                    from: Some(from),
                    domain,
                    log_only: false,
                }
            }
            MailSettings::Log => Self {
                queue: None,
                from: None,
                domain,
                log_only: true,
            },
            MailSettings::Off => {
                tracing::warn!(
                    "no smtp_url is set: Grantor sends no mail (password resets by mail are off)"
                );
                Self {
                    queue: None,
                    from: None,
                    domain,
                    log_only: false,
                }
            }
        })
    }

    /// Whether messages reach anyone (a mail server, or the log of a development server).
    pub fn is_on(&self) -> bool {
        self.queue.is_some() || self.log_only
    }

    /// Queues `mail` and returns at once; whatever happens next is logged, never answered.
    pub fn send(&self, mail: Mail) {
        if self.log_only {
            // Development only: the issuer is plain-http loopback, and this is how its one
            // user reads their mail. The body may hold a link that signs someone in.
            tracing::info!(
                to = %mail.to,
                subject = %mail.subject,
                "MAIL NOT SENT (no smtp_url; development issuer) - the message follows:\n{}",
                mail.body
            );
            return;
        }
        let (Some(queue), Some(from)) = (&self.queue, &self.from) else {
            tracing::warn!(to = %mail.to, subject = %mail.subject, "no smtp_url is set: a message was not sent");
            return;
        };
        let message = match self.message(from, &mail) {
            Ok(message) => message,
            Err(why) => {
                tracing::warn!(to = %mail.to, subject = %mail.subject, %why, "a message could not be written");
                return;
            }
        };
        if queue.try_send(message).is_err() {
            tracing::warn!(to = %mail.to, subject = %mail.subject, "the mail queue is full: a message was dropped");
        }
    }

    fn message(&self, from: &Mailbox, mail: &Mail) -> Result<Message, String> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| "the recipient's address cannot be written in a message".to_string())?;
        let id = grantor_core::secret::new_id("").map_err(|e| e.to_string())?;
        Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| e.to_string())
    }
}

/// Delivers queued messages one at a time until the server's state (every [`Mailer`]) is gone.
async fn deliver(
    transport: AsyncSmtpTransport<Tokio1Executor>,
    mut waiting: mpsc::Receiver<Message>,
) {
    while let Some(message) = waiting.recv().await {
        let to: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            match transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::debug!(?to, attempt, "message sent");
                    break;
                }
                // A refusal for good (a 5xx answer): trying again would be refused again.
                Err(e) if e.is_permanent() => {
                    tracing::warn!(?to, error = %e, "the mail server refused a message");
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    tracing::warn!(?to, attempts = ATTEMPTS, error = %e, "a message could not be sent: the mail server is unreachable or busy");
                }
                Err(e) => {
                    tracing::info!(?to, attempt, error = %e, "sending a message failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_name_a_server_its_security_and_credentials() {
        let plain = SmtpServer::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security, plain.user),
            ("127.0.0.1", 2525, Security::Plain, None)
        );
        let starttls =
            SmtpServer::parse("smtp://u%40x:p%3Aw@mail.example.com?tls=starttls").unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        assert_eq!(starttls.user.as_deref(), Some("u@x"));
        assert_eq!(starttls.password.as_deref(), Some("p:w"));
        let tls = SmtpServer::parse("smtps://user:secret@mail.example.com:465").unwrap();
        assert_eq!((tls.port, tls.security), (465, Security::Tls));
        assert!(
            !format!("{tls:?}").contains("secret"),
            "Debug hides the password"
        );
        assert_eq!(SmtpServer::parse("smtps://[::1]").unwrap().host, "::1");
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_repeating_its_password() {
        for (url, says) in [
            ("not a url", "is not a URL"),
            ("http://user:hunter2@mail.example.com", "scheme \"http\""),
            ("smtp://mail.example.com?tls=yes", "tls=\"yes\""),
            ("smtps://mail.example.com?tls=starttls", "TLS already"),
            ("smtp://mail.example.com?pool=1", "unknown parameter"),
            ("smtp://mail.example.com/inbox", "has a path"),
            ("smtp://user:hunter2@mail.example.com", "plain text"),
            ("smtp://:hunter2@mail.example.com?tls=starttls", "no user"),
        ] {
            let why = SmtpServer::parse(url).unwrap_err();
            assert!(why.contains(says), "{url}: {why}");
            assert!(!why.contains("hunter2"), "{url}: {why}");
            assert!(why.contains("smtps://user:password@host:465"), "{why}");
        }
    }

    #[test]
    fn mail_from_is_required_with_smtp_and_must_be_an_address() {
        let url = Some("smtp://127.0.0.1:2525");
        let https = "https://id.example.com";
        assert!(
            MailSettings::new(url, None, https)
                .unwrap_err()
                .contains("GRANTOR_MAIL_FROM")
        );
        let bad = MailSettings::new(url, Some("not an address"), https).unwrap_err();
        assert!(bad.contains("mail_from"), "{bad}");
        let ok = MailSettings::new(url, Some("Grantor <noreply@example.com>"), https);
        assert!(matches!(ok, Ok(MailSettings::Smtp { .. })));
        assert!(matches!(
            MailSettings::new(None, None, "http://127.0.0.1:8080"),
            Ok(MailSettings::Log)
        ));
        assert!(matches!(
            MailSettings::new(None, None, https),
            Ok(MailSettings::Off)
        ));
    }
}
