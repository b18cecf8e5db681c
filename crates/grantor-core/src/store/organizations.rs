//! Organizations.

use super::StoreResult;
use super::Window;
use crate::model::{AuditEvent, Organization};
use std::future::Future;

/// Organizations, found by id or name.
pub trait OrganizationStore: Send + Sync {
    fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// By id or by name.
    fn organization(
        &self,
        id_or_name: &str,
    ) -> impl Future<Output = StoreResult<Option<Organization>>> + Send;
    /// Turns the organization's "require a second factor" setting on or off, with `audit`.
    fn set_require_second_factor(
        &self,
        org_id: &str,
        required: bool,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every organization, by name, a window at a time.
    fn organizations(
        &self,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Organization>>> + Send;
    /// The organizations an enabled user belongs to, by name, a window at a time.
    fn organizations_of_user(
        &self,
        user_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Organization>>> + Send;
}
