//! Organization access grants: which organizations added which apps, with which scopes.

use super::StoreResult;
use super::Window;
use crate::model::{AuditEvent, OrgAccessGrant};
use std::future::Future;

/// Apps added to organizations.
pub trait AddedAppStore: Send + Sync {
    fn put_org_grant(
        &self,
        grant: &OrgAccessGrant,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn org_grants(
        &self,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// The apps an organization added (its own and other organizations'), a window at a
    /// time.
    fn org_grants_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// The organizations that added each app of `apps(org_id, window)`, in one read.
    fn org_grants_of_apps(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<OrgAccessGrant>>> + Send;
    /// Removes an app from an organization; returns whether it had been added.
    fn delete_org_grant(
        &self,
        org_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
