//! Workspaces and who belongs to each.

use async_trait::async_trait;
use tessera_domain::{PermissionSet, User, UserId, Workspace, WorkspaceId, WorkspaceMembership};

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

/// A workspace, and one person's membership of it with its role's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceWithMember {
    pub workspace: Workspace,
    pub member: Option<(WorkspaceMembership, PermissionSet)>,
}

#[async_trait]
pub trait WorkspaceRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()>;
    /// Inserts the workspace only while the tenant holds fewer than `limit` (`None`: no
    /// limit), counting and inserting in one statement; `false` when it was at the
    /// limit (nothing inserted). Under the tenant's quota lock
    /// ([`Transaction::enter_tenant_for_quota`](super::Transaction::enter_tenant_for_quota))
    /// the count sees every creation committed before.
    async fn insert_within(&self, scope: &TenantScope, workspace: &Workspace, limit: Option<u64>) -> StoreResult<bool>;
    async fn find_by_id(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    /// One statement for any number of ids (ids outside the scope are absent).
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[WorkspaceId]) -> StoreResult<Vec<Workspace>>;
    /// Saves name and `updated_at`; `NotFound` when the row is not in scope.
    async fn update(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()>;
    /// `NotFound` when the row is not in scope.
    async fn delete(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<()>;
    /// The tenant's workspaces; with `member_of`, only those that user belongs to.
    async fn list(
        &self,
        scope: &TenantScope,
        member_of: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Workspace>>;
    async fn count(&self, scope: &TenantScope, member_of: Option<UserId>) -> StoreResult<u64>;
    /// `Duplicate("userId")` when the user is already a member of the workspace.
    async fn add_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()>;
    async fn find_member(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Option<WorkspaceMembership>>;
    /// The workspace, with `user`'s membership of it and that membership's role's
    /// permissions, in one statement (what a grant check reads); `None` when the
    /// workspace is not in scope, no membership without `user` or when they hold none.
    async fn find_with_member(
        &self,
        scope: &TenantScope,
        id: WorkspaceId,
        user: Option<UserId>,
    ) -> StoreResult<Option<WorkspaceWithMember>>;
    /// The user's own memberships among these workspaces.
    async fn memberships_of_user(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// The first `per_workspace` members of each workspace by `(created_at, id)`, in one
    /// statement (a window over the workspaces), ordered by workspace then that key.
    async fn first_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// [`WorkspaceRepository::first_members_of`], each row with its user joined (a
    /// workspace member is always a member of the tenant, so these are the users
    /// [`super::UserRepository::find_members_by_ids`] would read), in one statement.
    async fn first_members_with_users_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<(WorkspaceMembership, User)>>;
    /// Keyset page over the workspace's members `(created_at, id)`.
    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>>;
    /// How many members each of these workspaces has, in one statement (a workspace
    /// without members, or outside the scope, is absent).
    async fn count_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<(WorkspaceId, u64)>>;
    /// The first `per_user` workspace memberships of each user by `(created_at, id)`,
    /// in one statement; with `visible_to`, only workspaces that user also belongs to.
    async fn first_workspaces_of(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
        per_user: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// Keyset page over a user's workspace memberships `(created_at, id)`; with
    /// `visible_to`, only workspaces that user also belongs to.
    async fn list_of_member(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        visible_to: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>>;
    /// How many workspaces each of these users belongs to (as `visible_to` sees them),
    /// in one statement; a user in none is absent.
    async fn count_of_members(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
    ) -> StoreResult<Vec<(UserId, u64)>>;
    /// Saves the member's workspace role; `NotFound` when not in scope.
    async fn update_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()>;
    /// `NotFound` when the user is not a member of the workspace.
    async fn remove_member(&self, scope: &TenantScope, workspace_id: WorkspaceId, user_id: UserId) -> StoreResult<()>;
    /// Takes a user out of every workspace of the tenant.
    async fn remove_member_everywhere(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<()>;
}
