//! What a tenant's directory provisioned (SCIM): its tokens, people, groups and the
//! groups' members. Every method is scoped to one tenant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{RoleId, ScimGroup, ScimGroupId, ScimToken, ScimTokenId, ScimUser, ScimUserId, UserId};

use super::StoreResult;
use crate::TenantScope;

/// Which people a directory asks for (`userName` compared without regard to case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimUserFilter {
    UserName(String),
    ExternalId(String),
}

/// Which groups a directory asks for (`displayName` compared without regard to case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimGroupFilter {
    DisplayName(String),
    ExternalId(String),
}

/// One page of a directory's list: `offset` rows skipped, at most `limit` taken, and
/// how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimSlice<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[async_trait]
pub trait ScimRepository: Send + Sync {
    async fn insert_token(&self, scope: &TenantScope, token: &ScimToken) -> StoreResult<()>;
    async fn find_token(&self, scope: &TenantScope, id: ScimTokenId) -> StoreResult<Option<ScimToken>>;
    /// The newest tokens first, at most `limit`.
    async fn list_tokens(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<ScimToken>>;
    async fn count_live_tokens(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// `false` when it was revoked already (or is not in scope).
    async fn revoke_token(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn record_token_use(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<()>;

    /// `Duplicate("userName")` when the name is taken in the tenant, `Duplicate("user")`
    /// when the user is provisioned already.
    async fn insert_user(&self, scope: &TenantScope, user: &ScimUser) -> StoreResult<()>;
    async fn find_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<Option<ScimUser>>;
    async fn find_user_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<ScimUser>>;
    async fn find_users(&self, scope: &TenantScope, ids: &[ScimUserId]) -> StoreResult<Vec<ScimUser>>;
    /// Saves `user` only if the row still has `expected_version` (`Stale` otherwise);
    /// `Duplicate("userName")` when the new name is taken.
    async fn update_user(&self, scope: &TenantScope, user: &ScimUser, expected_version: i64) -> StoreResult<()>;
    /// Drops the person and their group memberships; `false` when not in scope.
    async fn delete_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<bool>;
    /// Ordered by creation, then id.
    async fn list_users(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimUserFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimUser>>;

    /// `Duplicate("displayName")` when the name is taken in the tenant.
    async fn insert_group(&self, scope: &TenantScope, group: &ScimGroup) -> StoreResult<()>;
    async fn find_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<Option<ScimGroup>>;
    /// Saves `group` only if the row still has `expected_version` (`Stale` otherwise).
    async fn update_group(&self, scope: &TenantScope, group: &ScimGroup, expected_version: i64) -> StoreResult<()>;
    /// Drops the group and its member list; `false` when not in scope.
    async fn delete_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<bool>;
    /// Ordered by creation, then id.
    async fn list_groups(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimGroupFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimGroup>>;
    /// Whether a group maps to this role.
    async fn role_is_mapped(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<bool>;

    /// The members of these groups, in one statement.
    async fn group_members(
        &self,
        scope: &TenantScope,
        groups: &[ScimGroupId],
    ) -> StoreResult<Vec<(ScimGroupId, ScimUserId)>>;
    /// Replaces the group's members.
    async fn set_group_members(
        &self,
        scope: &TenantScope,
        group: ScimGroupId,
        members: &[ScimUserId],
    ) -> StoreResult<()>;
    /// The groups these people are in (two statements, whatever their number).
    async fn groups_of(&self, scope: &TenantScope, users: &[ScimUserId]) -> StoreResult<Vec<(ScimUserId, ScimGroup)>>;
}
