//! A small SMTP server on loopback for tests: enough of RFC 5321 for lettre (EHLO or HELO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeping every message it accepts so a test can read
//! what Grantor mailed. It can refuse the next few messages with a temporary failure (451),
//! as a busy server would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, lines joined with `\n`, dot-stuffing undone.
    pub data: String,
}

impl Received {
    /// The value of header `name` (the first, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = self.data.split_once("\n\n")?;
        let prefix = format!("{}:", name.to_lowercase());
        let mut lines = headers.lines().peekable();
        while let Some(line) = lines.next() {
            if line.to_lowercase().starts_with(&prefix) {
                let mut value = line[prefix.len()..].trim().to_string();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The body, decoded from its transfer encoding (7bit or quoted-printable).
    pub fn body(&self) -> String {
        let body = self.data.split_once("\n\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some(e) if e.eq_ignore_ascii_case("quoted-printable") => quoted_printable(body),
            _ => body.to_string(),
        }
    }

    /// The first link on a line of its own in the body.
    pub fn link(&self) -> String {
        self.body()
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("http"))
            .expect("the message holds a link on a line of its own")
            .to_string()
    }
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    /// Messages still to refuse with 451 at MAIL.
    refuse: AtomicUsize,
    /// Every MAIL command seen, refused or not.
    attempts: AtomicUsize,
}

pub struct SmtpServer {
    pub address: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        Self {
            address,
            inbox,
            task,
        }
    }

    /// The `smtp_url` that reaches it.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// An `smtp_url` where nothing listens: a mail server that is down.
    pub async fn down_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        format!("smtp://{address}")
    }

    /// Answers the next `n` messages "451 try again later".
    pub fn refuse_next(&self, n: usize) {
        self.inbox.refuse.store(n, Ordering::SeqCst);
    }

    /// MAIL commands seen so far, refused ones included.
    pub fn attempts(&self) -> usize {
        self.inbox.attempts.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// Waits until `n` messages have arrived, failing after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.inbox.arrived.notified();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "{} of {n} messages arrived in {within:?}",
                    self.received().len()
                );
            }
        }
    }
}

async fn say(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    write
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .is_ok()
}

async fn session(stream: TcpStream, inbox: Arc<Inbox>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if !say(&mut write, "220 grantor-test ESMTP").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default();
        let path = || {
            line.split_once(':')
                .map(|(_, rest)| rest.trim().trim_start_matches('<'))
                .and_then(|rest| rest.split('>').next())
                .unwrap_or_default()
                .to_string()
        };
        let answer = match verb {
            "EHLO" => "250-grantor-test\r\n250 8BITMIME".to_string(),
            "HELO" => "250 grantor-test".to_string(),
            "MAIL" => {
                inbox.attempts.fetch_add(1, Ordering::SeqCst);
                let refused = inbox
                    .refuse
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refused {
                    "451 4.3.0 busy, try again later".to_string()
                } else {
                    from = path();
                    to.clear();
                    "250 2.1.0 OK".to_string()
                }
            }
            "RCPT" => {
                to.push(path());
                "250 2.1.5 OK".to_string()
            }
            "DATA" => {
                if !say(&mut write, "354 end with <CRLF>.<CRLF>").await {
                    return;
                }
                let mut data = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    // The sender doubled every leading dot (RFC 5321 4.5.2).
                    data.push(line.strip_prefix('.').unwrap_or(&line).to_string());
                }
                let message = Received {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data: data.join("\n"),
                };
                inbox.received.lock().unwrap().push(message);
                inbox.arrived.notify_waiters();
                "250 2.0.0 queued".to_string()
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 OK".to_string()
            }
            "NOOP" => "250 2.0.0 OK".to_string(),
            "QUIT" => {
                let _ = say(&mut write, "221 2.0.0 bye").await;
                return;
            }
            _ => "502 5.5.2 command not recognized".to_string(),
        };
        if !say(&mut write, &answer).await {
            return;
        }
    }
}
