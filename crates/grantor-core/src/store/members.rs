//! Memberships: who belongs to an organization, with which role.

use super::StoreResult;
use super::Window;
use crate::model::{AuditEvent, Membership, Role};
use std::future::Future;

/// What became of a change to a membership. Whether it would leave the organization without
/// an owner is decided inside the change's transaction, with the organization's memberships
/// locked, so concurrent changes cannot each rely on the other's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Changed,
    NoSuchMember,
    WouldLeaveNoOwner,
}

/// Memberships of organizations.
pub trait MemberStore: Send + Sync {
    /// Makes the user a member with `role`, or gives a member that role; refused (nothing
    /// written) when it would demote the organization's last owner.
    fn put_membership(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<MembershipChange>> + Send;
    /// Removes a member; refused (nothing written) when they are the last owner.
    fn delete_membership(
        &self,
        org_id: &str,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<MembershipChange>> + Send;
    fn memberships_of_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<Membership>>> + Send;
    /// The user's membership of one organization (none for a disabled user).
    fn membership(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Membership>>> + Send;
    /// One member, by user id or email.
    fn member(
        &self,
        org_id: &str,
        user: &str,
    ) -> impl Future<Output = StoreResult<Option<Membership>>> + Send;
    /// Members by email, a window at a time.
    fn members_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> impl Future<Output = StoreResult<Vec<Membership>>> + Send;
}
