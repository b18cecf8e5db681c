//! Checking a user's password, for the login page and the password grant alike, behind
//! growing delays per account and per address. A failure never says whether the account
//! exists.
//!
//! Each attempt is counted before the password is checked, atomically, so parallel guesses
//! cannot all slip through before the first failure is recorded; a successful attempt gives
//! its count back. The account's delays apply only to addresses that have failed before:
//! failures from elsewhere can slow an attacker's addresses down, never lock the account's
//! owner out when they come from an address with a clean record.

use crate::StoreError;
use crate::model::User;
use crate::password::PasswordChecker;
use crate::store::{ThrottleStore, UserStore};
use std::net::IpAddr;

/// Failures are forgotten after an hour without one.
const WINDOW: i64 = 3600;
/// Free attempts before delays start: more for an address (people share them) than for an
/// account.
const FREE_PER_ACCOUNT: i64 = 3;
const FREE_PER_ADDRESS: i64 = 10;
/// Longest email address (RFC 5321 4.5.3.1.3) and password accepted; anything longer is
/// refused before any work.
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong email or password (deliberately not saying which).
    Invalid,
    /// The email or the password is longer than anyone's.
    TooLong,
    /// Too many recent failures; try again after this many seconds.
    Throttled(i64),
    /// Too many password checks are under way; try again in a moment.
    Busy,
    /// The password was right but an administrator disabled the account.
    Disabled,
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

/// The throttle key of an account's second-factor codes (the password was right already).
pub(crate) fn second_factor_key(user_id: &str) -> String {
    format!("second-factor:{user_id}")
}

/// The throttle key of an address: IPv4 as is, IPv6 by its /64 (one subscriber's
/// allocation, which they can fill with addresses at will).
pub fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        IpAddr::V4(v4) => format!("address:{v4}"),
    }
}

/// Counts one attempt against `key` if its delay has passed; returns the failures on record
/// before it. The count is a compare-and-set, so concurrent attempts are counted one by one.
pub(crate) async fn reserve<S: ThrottleStore>(
    store: &S,
    key: &str,
    free: i64,
    now: i64,
) -> Result<i64, LoginError> {
    for _ in 0..32 {
        let seen = store.failures(key).await?;
        let (failures, wait) = match seen {
            Some((failures, last)) if now - last < WINDOW => {
                (failures, (last + delay(failures, free) - now).max(0))
            }
            _ => (0, 0),
        };
        if wait > 0 {
            return Err(LoginError::Throttled(wait));
        }
        if store.count_attempt(key, seen, now, WINDOW).await? {
            return Ok(failures);
        }
        // Another attempt was counted in between: look again.
    }
    // Many sign-ins from this address at this very moment (several nodes behind one
    // balancer): not a throttle on the person, a moment's congestion.
    Err(LoginError::Busy)
}

/// Verifies `email` and `password` from `address`.
pub async fn authenticate<S: UserStore + ThrottleStore>(
    store: &S,
    checker: &PasswordChecker,
    email: &str,
    password_given: &str,
    address: IpAddr,
    now: i64,
) -> Result<User, LoginError> {
    if email.len() > MAX_EMAIL_BYTES || password_given.len() > MAX_PASSWORD_BYTES {
        return Err(LoginError::TooLong);
    }
    let email = email.trim().to_lowercase();
    let (account, addr) = (account_key(&email), address_key(address));
    let clean_address = reserve(store, &addr, FREE_PER_ADDRESS, now).await? == 0;
    if !clean_address && let Err(e) = reserve(store, &account, FREE_PER_ACCOUNT, now).await {
        // A refused attempt is not a failure.
        store.refund_attempt(&addr).await?;
        return Err(e);
    }
    let user = store.user_by_email(&email).await?;
    let checked = checker
        .verify(
            password_given,
            user.as_ref()
                .map(|u| u.password_hash.as_str())
                // No password yet: the same work as an unknown email, and a refusal.
                .filter(|hash| !hash.is_empty()),
        )
        .await;
    match (checked, user) {
        (Ok(true), Some(user)) => {
            store.clear_failures(&account).await?;
            store.refund_attempt(&addr).await?;
            if user.disabled_at.is_some() {
                return Err(LoginError::Disabled);
            }
            Ok(user)
        }
        (Err(_busy), _) => {
            store.refund_attempt(&addr).await?;
            if !clean_address {
                store.refund_attempt(&account).await?;
            }
            Err(LoginError::Busy)
        }
        _ => {
            if clean_address {
                store.record_failure(&account, now, WINDOW).await?;
            }
            Err(LoginError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay(2, 3), 0);
        assert_eq!(delay(3, 3), 1);
        assert_eq!(delay(5, 3), 4);
        assert_eq!(delay(40, 3), 900);
    }

    #[test]
    fn ipv6_addresses_are_throttled_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(address_key(mapped), "address:198.51.100.7");
    }
}
