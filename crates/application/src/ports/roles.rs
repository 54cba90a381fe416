//! A tenant's roles and their permissions.

use async_trait::async_trait;
use tessera_domain::{PermissionSet, Role, RoleId, SystemRole, TenantId, UserId};

use super::{HeldRole, StoreResult};
use crate::{Page, PageRequest, TenantScope};

#[async_trait]
pub trait RoleRepository: Send + Sync {
    /// Stores the role and its permissions.
    async fn insert(&self, scope: &TenantScope, role: &Role) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>>;
    /// Roles with their permissions, in a fixed number of statements.
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[RoleId]) -> StoreResult<Vec<Role>>;
    async fn find_system(&self, scope: &TenantScope, system: SystemRole) -> StoreResult<Option<Role>>;
    /// The roles of the user's own memberships in these tenants (needs
    /// [`Transaction::enter_user`]); one statement.
    async fn held_by(&self, user_id: UserId, tenant_ids: &[TenantId]) -> StoreResult<Vec<HeldRole>>;
    async fn permissions_of(&self, scope: &TenantScope, id: RoleId) -> StoreResult<PermissionSet>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Role>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Saves the name and the permission set of `role` if the stored role still has
    /// `expected`'s (what the change was based on), writing only what differs; `Stale`
    /// when another request changed it meanwhile.
    async fn update(&self, scope: &TenantScope, expected: &Role, role: &Role) -> StoreResult<()>;
    async fn delete(&self, scope: &TenantScope, id: RoleId) -> StoreResult<()>;
    /// Memberships (not removed) and workspace memberships that hold the role.
    async fn count_holders(&self, scope: &TenantScope, id: RoleId) -> StoreResult<u64>;
    /// Moves every membership and workspace membership from one role to another.
    async fn reassign_holders(&self, scope: &TenantScope, from: RoleId, to: RoleId) -> StoreResult<()>;
}
