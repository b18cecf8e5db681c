//! Invitations to organizations.

use super::StoreResult;
use crate::model::{AuditEvent, Invitation, User};
use std::future::Future;

/// Invitations to join an organization, found by the hash of the link's token.
pub trait InvitationStore: Send + Sync {
    fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn invitation_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<Invitation>>> + Send;
    /// The organization's invitations not yet accepted, newest first.
    fn pending_invitations(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<Invitation>>> + Send;
    /// Uses the invitation once, atomically: marks it accepted if it is still open at `now`,
    /// creates `new_user` when given, and makes `user_id` a member with the invitation's role
    /// (a current member keeps their role). Returns whether the invitation was still open.
    fn accept_invitation(
        &self,
        invitation: &Invitation,
        user_id: &str,
        new_user: Option<&User>,
        now: i64,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Withdraws an open invitation; returns whether there was one.
    fn delete_invitation(
        &self,
        org_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
