//! Real processes (Grantor nodes, the Trading API, its command-line client), killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

pub struct Process {
    pub child: Child,
    /// Every stderr line, as it comes.
    pub stderr: Receiver<String>,
}

impl Process {
    /// Starts `command` with stderr piped and read on a thread of its own.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("process starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stderr: rx }
    }

    /// Waits for a stderr line containing `marker`; returns the first word after it.
    pub fn word_after(&self, marker: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no line with {marker:?}"));
            if let Some(rest) = line.split(marker).nth(1) {
                return rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        }
    }

    pub fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout was piped")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `grantor` binary with test logging.
pub fn grantor() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grantor"));
    command
        .env("GRANTOR_LOG", "info")
        .env("GRANTOR_KEY_ENCRYPTION_KEY", super::TEST_KEK)
        .stdout(Stdio::null());
    command
}

/// `grantor serve` on `database_url`, on port 0. Every node gets the same issuer, as behind a
/// load balancer.
pub fn serve(database_url: &str) -> Command {
    let mut command = grantor();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--issuer",
        "https://grantor.example",
        "--database-url",
        database_url,
    ]);
    command
}

/// A `grantor serve` node on `database_url` ([`serve`]), once listening, and its base URL.
pub fn node(database_url: &str) -> (Process, String) {
    let node = Process::spawn(serve(database_url));
    let base = node.word_after("listening on ");
    (node, base)
}

/// The Trading example's binary, built by `cargo test --workspace` beside this test binary.
pub fn trading() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_path_buf();
    let path = dir.join("trading");
    assert!(
        path.exists(),
        "{} is missing: run the suite with `cargo test --workspace` (or `cargo build -p trading-example` first)",
        path.display()
    );
    let mut command = Command::new(path);
    command.stdout(Stdio::null());
    command
}
