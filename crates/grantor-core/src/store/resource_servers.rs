//! Resource servers and their scopes.

use super::StoreResult;
use crate::model::{AuditEvent, ResourceServer};
use std::future::Future;

/// Resource servers as their organization manages them (the hot path reads them through
/// [`super::Registry`]).
pub trait ResourceServerStore: Send + Sync {
    fn create_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn resource_servers(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<ResourceServer>>> + Send;
    /// Whether a resource server of any organization declares `scope`.
    fn scope_declared(&self, scope: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Saves a resource server's name and replaces its scopes.
    fn update_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn delete_resource_server(
        &self,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
