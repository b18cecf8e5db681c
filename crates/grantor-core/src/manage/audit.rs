//! The audit log, as an organization's owners read it.

use super::Governed;
use super::Manager;
use crate::ServiceError;
use crate::model::{AuditEvent, Caller};
use crate::policy::Action;
use crate::store::AuditQuery;

impl<S: Governed> Manager<S> {
    /// The organization's audit log, newest first (owners).
    pub async fn audit_events(
        &self,
        actor: &Caller,
        org: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        let org = self.org_allowing(actor, org, Action::ViewAudit).await?;
        Ok(self.store.audit_events(&org.id, query).await?)
    }
}
