//! Checking a user's password, for the login page and the password grant alike, behind
//! growing delays per account and per address. A failure never says whether the account
//! exists.

use crate::model::User;
use crate::store::{Directory, ThrottleStore};
use crate::{StoreError, password};

/// Failures are forgotten after an hour without one.
const WINDOW: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong email or password (deliberately not saying which).
    Invalid,
    /// Too many recent failures; try again after this many seconds.
    Throttled(i64),
    Store(StoreError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Seconds to wait after `failures` failures: free attempts first, then doubling, capped.
fn delay(failures: i64, free: i64) -> i64 {
    if failures < free {
        0
    } else {
        (1_i64 << (failures - free).min(10)).min(900)
    }
}

fn account_key(email: &str) -> String {
    format!("account:{email}")
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

async fn wait_for<S: ThrottleStore>(
    store: &S,
    key: &str,
    free: i64,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(match store.failures(key).await? {
        Some((failures, last)) if now - last < WINDOW => {
            (last + delay(failures, free) - now).max(0)
        }
        _ => 0,
    })
}

/// Verifies `email` and `password`. `address` is the client's IP address.
pub async fn authenticate<S: Directory + ThrottleStore>(
    store: &S,
    email: &str,
    password_given: &str,
    address: &str,
    now: i64,
) -> Result<User, LoginError> {
    let email = email.trim().to_lowercase();
    let (account, addr) = (account_key(&email), address_key(address));
    // An address gets more free attempts than an account: several people may share it.
    let wait = wait_for(store, &account, 3, now)
        .await?
        .max(wait_for(store, &addr, 10, now).await?);
    if wait > 0 {
        return Err(LoginError::Throttled(wait));
    }
    let user = store.user_by_email(&email).await?;
    let ok = match &user {
        Some(u) => password::verify(password_given, &u.password_hash),
        None => {
            password::dummy_verify(password_given);
            false
        }
    };
    match (ok, user) {
        (true, Some(user)) => {
            store.clear_failures(&account).await?;
            Ok(user)
        }
        _ => {
            store.record_failure(&account, now, WINDOW).await?;
            store.record_failure(&addr, now, WINDOW).await?;
            Err(LoginError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(super::delay(2, 3), 0);
        assert_eq!(super::delay(3, 3), 1);
        assert_eq!(super::delay(5, 3), 4);
        assert_eq!(super::delay(40, 3), 900);
    }
}
