//! User passwords: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).

use crate::CryptoError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> Result<String, CryptoError> {
    let salt_bytes: [u8; 16] = crate::secret::random_bytes()?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| CryptoError(format!("salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError(format!("argon2: {e}")))
}

pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The fewest characters a new password may have.
pub const MIN_CHARS: usize = 8;

/// The rules every new password meets, wherever it is set (a new account, a change, a
/// reset, the operator): at least [`MIN_CHARS`] characters, and no longer than a sign-in
/// accepts ([`crate::login::MAX_PASSWORD_BYTES`]), so it can always be used.
pub fn check_new(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!(
            "a password must have at least {MIN_CHARS} characters"
        ));
    }
    if password.len() > crate::login::MAX_PASSWORD_BYTES {
        return Err(format!(
            "a password must be at most {} bytes",
            crate::login::MAX_PASSWORD_BYTES
        ));
    }
    Ok(())
}

/// The password checker is full: too many checks are running or waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

type Check = Box<dyn FnOnce() + Send>;

/// Runs argon2 on a few threads of its own, never on the async workers, so a flood of
/// sign-ins cannot starve token issuance: half the cores check passwords at most, and at
/// most `capacity` checks wait; past that a check is refused at once ([`Busy`]) rather than
/// queued without bound. Dedicated threads also bound memory: each keeps one argon2 working
/// area (19 MiB) rather than every short-lived blocking thread keeping its own.
pub struct PasswordChecker {
    queue: SyncSender<Check>,
}

impl PasswordChecker {
    pub fn new(workers: usize, capacity: usize) -> Self {
        let (queue, checks) = sync_channel::<Check>(capacity.max(1));
        let checks = Arc::new(Mutex::new(checks));
        for _ in 0..workers.max(1) {
            let checks = checks.clone();
            // The threads end when the checker (the sending side) is dropped.
            let _ = std::thread::Builder::new()
                .name("grantor-passwords".into())
                .spawn(move || {
                    loop {
                        let next = match checks.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(check) => check(),
                            Err(_) => return,
                        }
                    }
                });
        }
        Self { queue }
    }

    /// Half the cores (at least one), and eight waiting checks per worker.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = (cores / 2).max(1);
        Self::new(workers, workers * 8)
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no
    /// account, so both take the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Busy> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        let check: Check = Box::new(move || {
            let ok = match stored {
                Some(hash) => verify(&password, &hash),
                None => {
                    dummy_verify(&password);
                    false
                }
            };
            let _ = answer.send(ok);
        });
        self.queue.try_send(check).map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

impl PasswordChecker {
    /// Hashes a new password on the checker's threads, as [`Self::verify`] checks one: a
    /// burst of password changes or resets waits its turn rather than stalling the async
    /// workers.
    pub async fn hash(&self, password: &str) -> Result<Result<String, CryptoError>, Busy> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let password = password.to_string();
        let job: Check = Box::new(move || {
            let _ = answer.send(hash(&password));
        });
        self.queue.try_send(job).map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

/// A hash to verify against when the account does not exist, so a failed login takes the same
/// time whether or not the email is known.
pub fn dummy_verify(password: &str) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Zq8QZ0cQ3l3gR8Yd8mKp8p4nqY1x0m3e3vJ3b0cY3o";
    let _ = verify(password, DUMMY);
}

#[cfg(test)]
mod tests {
    #[test]
    fn verifies_only_the_right_password() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn the_checker_refuses_work_past_its_capacity() {
        let h = super::hash("correct horse").unwrap();
        let checker = std::sync::Arc::new(super::PasswordChecker::new(1, 2));
        let runs: Vec<_> = (0..6)
            .map(|_| {
                let (checker, h) = (checker.clone(), h.clone());
                tokio::spawn(async move { checker.verify("correct horse", Some(&h)).await })
            })
            .collect();
        let mut ok = 0;
        let mut busy = 0;
        for run in runs {
            match run.await.unwrap() {
                Ok(true) => ok += 1,
                Err(super::Busy) => busy += 1,
                Ok(false) => panic!("the right password failed"),
            }
        }
        assert!(ok >= 2 && busy >= 1, "ok {ok}, busy {busy}");
        assert_eq!(checker.verify("wrong", Some(&h)).await, Ok(false));
        assert_eq!(checker.verify("wrong", None).await, Ok(false));
    }
}
