//! The person's side of the device grant (RFC 8628 3.3): the `/device` page finds a device
//! authorization by the user code typed there, shows it on the same approval page as the
//! code flow, and records the answer, which the polling device then learns
//! (`grant::device_code`).
//!
//! User codes are short, so guesses are throttled per address exactly as passwords are
//! (`login`): each lookup is counted before it is made, and given back when it found a
//! code. A wrong, expired or answered code all get the same answer.

use crate::authorize::{ConsentPrompt, Decision, SignedIn};
use crate::grant::device_code::UserCode;
use crate::login::{self, LoginError};
use crate::provider::Provider;
use crate::store::{
    Client, ConsentStore, DeviceApproval, DeviceCodeRecord, DeviceCodeStore, DeviceDecision,
    GrantStore, MemberStore, Registry, ThrottleStore, UserStore,
};
use crate::{ErrorCode, OAuthError, StoreError};
use std::net::IpAddr;
use std::sync::Arc;

/// Wrong user codes an address may type before delays start (then doubling, as for
/// passwords): enough for typos, far too few to find one of 20^8 codes.
const FREE_GUESSES: i64 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// No device waits for this code: mistyped, expired or already answered (deliberately
    /// one answer for all three).
    UnknownCode,
    /// Too many wrong codes from this address; try again after this many seconds.
    Throttled(i64),
    /// Too many lookups from this address at this very moment; try again shortly.
    Busy,
    /// The person is not a member of an organization that uses the app.
    NoOrganization,
    Failed(OAuthError),
}

impl From<StoreError> for DeviceError {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<OAuthError> for DeviceError {
    fn from(e: OAuthError) -> Self {
        Self::Failed(e)
    }
}

impl From<LoginError> for DeviceError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Throttled(wait) => Self::Throttled(wait),
            LoginError::Store(e) => e.into(),
            _ => Self::Busy,
        }
    }
}

/// What the page shows for a code found: the code, to compare with the device's screen
/// (RFC 8628 5.4), and the approval page.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    pub user_code: String,
    pub consent: ConsentPrompt,
}

/// A device authorization found by its user code.
struct Found {
    record: DeviceCodeRecord,
    client: Arc<Client>,
    code: UserCode,
}

impl<S> Provider<S>
where
    S: Registry + UserStore + MemberStore + ConsentStore + GrantStore + ThrottleStore,
    S: DeviceCodeStore + crate::store::OrganizationStore,
{
    /// The device authorization waiting for the code `typed` from `address`, throttled.
    async fn find_device_authorization(
        &self,
        typed: &str,
        address: IpAddr,
    ) -> Result<Found, DeviceError> {
        // What cannot be a code names nothing and costs nothing to refuse: not counted.
        let code = UserCode::parse(typed).ok_or(DeviceError::UnknownCode)?;
        let now = self.clock.now();
        let key = format!("user_code:{}", login::address_key(address));
        login::reserve(&self.store, &key, FREE_GUESSES, now).await?;
        // Not found: the attempt stays counted, as a failure.
        let record = self
            .store
            .pending_device_code(&code.hash(), now)
            .await?
            .ok_or(DeviceError::UnknownCode)?;
        self.store.refund_attempt(&key).await?;
        let client = self
            .store
            .client(&record.client_id)
            .await?
            .ok_or(DeviceError::UnknownCode)?;
        Ok(Found {
            record,
            client,
            code,
        })
    }

    /// The approval page for the device authorization with the user code `typed`.
    pub async fn device_prompt(
        &self,
        user: &SignedIn,
        typed: &str,
        address: IpAddr,
    ) -> Result<DevicePrompt, DeviceError> {
        let found = self.find_device_authorization(typed, address).await?;
        let orgs = self.eligible_orgs(&user.user_id, &found.client).await?;
        if orgs.is_empty() {
            return Err(DeviceError::NoOrganization);
        }
        let consent = self
            .consent_prompt(&user.user_id, &found.client, &found.record.scopes, orgs)
            .await?;
        Ok(DevicePrompt {
            user_code: found.code.display(),
            consent,
        })
    }

    /// Records the person's answer for the device authorization with the user code `typed`:
    /// a denial, or an approval in the organization chosen of the scopes left checked, which
    /// is remembered as the person's consent (as on the code flow's approval page). Returns
    /// the app's name, to say what was connected.
    pub async fn device_decide(
        &self,
        user: &SignedIn,
        typed: &str,
        decision: Decision,
        address: IpAddr,
    ) -> Result<String, DeviceError> {
        let found = self.find_device_authorization(typed, address).await?;
        let now = self.clock.now();
        let answer = if decision.allow {
            let (org_id, scopes) = self
                .approve(
                    &user.user_id,
                    &found.client,
                    &found.record.scopes,
                    &decision,
                )
                .await
                .map_err(|e| match e.code {
                    ErrorCode::AccessDenied => DeviceError::NoOrganization,
                    _ => DeviceError::Failed(e),
                })?;
            // An organization that requires a second factor takes devices only from a
            // session signed in with one.
            let needs = [found.client.app.org_id.as_str(), org_id.as_str()];
            if !user.method.is_multi_factor() {
                for id in needs {
                    if self
                        .store
                        .organization(id)
                        .await?
                        .is_some_and(|o| o.require_second_factor)
                    {
                        return Err(DeviceError::Failed(OAuthError::new(
                            ErrorCode::AccessDenied,
                            "this organization requires a second factor: sign out, sign in again with your authenticator app, then enter the code again",
                        )));
                    }
                }
            }
            // The grant lives until the device may still collect its tokens.
            let grant_id = self
                .create_grant_exchanged_by(
                    &user.user_id,
                    &found.client,
                    &org_id,
                    found.record.expires_at,
                )
                .await?;
            DeviceDecision::Approved(DeviceApproval {
                user_id: user.user_id.clone(),
                org_id,
                scopes,
                auth_time: user.auth_time,
                method: user.method,
                grant_id,
            })
        } else {
            DeviceDecision::Denied
        };
        // Answered meanwhile in another tab, or expired while the page was open.
        if !self
            .store
            .decide_device_code(&found.code.hash(), &answer, now)
            .await?
        {
            return Err(DeviceError::UnknownCode);
        }
        Ok(found.client.app.name.clone())
    }
}
