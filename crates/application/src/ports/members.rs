//! Memberships of people in tenants, and invitations.

use async_trait::async_trait;
use tessera_domain::{
    Email, Invitation, InvitationId, Membership, MembershipStatus, RoleId, SystemRole, TenantId, User, UserId,
};

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

/// A role the user holds somewhere, as their own membership shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRole {
    pub tenant_id: TenantId,
    pub role_id: RoleId,
    pub name: String,
    pub system: Option<SystemRole>,
}

/// Narrows a member list; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Case-insensitive substring of the member's email or display name.
    pub search: Option<String>,
    pub role_id: Option<RoleId>,
    pub status: Option<MembershipStatus>,
}

#[async_trait]
pub trait MembershipRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, membership: &Membership) -> StoreResult<()>;
    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>>;
    /// Saves role, status and `updated_at` only if the row still holds the role and
    /// status of `expected` (what the change was based on); `Stale` when another
    /// request changed them meanwhile, `NotFound` when the row is not in scope.
    async fn update(&self, scope: &TenantScope, expected: &Membership, membership: &Membership) -> StoreResult<()>;
    /// The active members holding `role_id`, locked until the transaction ends (on
    /// Postgres `FOR UPDATE`; SQLite runs one writer at a time): two owners leaving or
    /// demoting each other at once see each other's change, never both succeed.
    async fn lock_active_holders(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<Vec<UserId>>;
    /// Keyset page over `(created_at, id)`, filtered.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>>;
    /// The page [`list`](Self::list) reads, each membership with its user, in one
    /// statement (the users joined to the page).
    async fn list_with_users(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<(Membership, User)>>;
    async fn count(&self, scope: &TenantScope, filter: &MemberFilter) -> StoreResult<u64>;
    /// The caller's own memberships in every tenant (needs [`Transaction::enter_user`]),
    /// oldest first. Used by the authentication path before any scope exists.
    async fn list_own(&self, user_id: UserId) -> StoreResult<Vec<Membership>>;
    /// The user's active memberships of tenants that are not deleted (needs
    /// [`Transaction::enter_user`]), keyset page over `(created_at, id)`.
    async fn list_own_active(&self, user_id: UserId, page: &PageRequest) -> StoreResult<Page<Membership>>;
    async fn count_own_active(&self, user_id: UserId) -> StoreResult<u64>;
    /// The memberships of these users in the scope's tenant, in one statement.
    async fn find_by_users(&self, scope: &TenantScope, user_ids: &[UserId]) -> StoreResult<Vec<Membership>>;
}

#[async_trait]
pub trait InvitationRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: InvitationId) -> StoreResult<Option<Invitation>>;
    async fn find_by_token_digest(&self, scope: &TenantScope, digest: &str) -> StoreResult<Option<Invitation>>;
    /// Saves status and `accepted_at` of an invitation that is still pending (accepting
    /// and revoking both start there); `Stale` when it no longer is, `NotFound` when
    /// not in scope.
    async fn update(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()>;
    /// Revokes every pending invitation to `email` (a new one replaces them).
    async fn revoke_pending_for(&self, scope: &TenantScope, email: &Email) -> StoreResult<()>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Invitation>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
}
