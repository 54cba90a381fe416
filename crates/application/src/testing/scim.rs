//! A tenant directory's records in memory: tokens, people, groups and group members,
//! under the same rules as the real store (scope, unique names, versions).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{RoleId, ScimGroup, ScimGroupId, ScimToken, ScimTokenId, ScimUser, ScimUserId, UserId};

use super::store::{FakeTransaction, in_scope, owned};
use crate::TenantScope;
use crate::ports::{ScimGroupFilter, ScimRepository, ScimSlice, ScimUserFilter, StoreError, StoreResult};

/// Records a directory keeps in the fake store.
#[derive(Clone, Default)]
pub struct ScimState {
    pub tokens: Vec<ScimToken>,
    pub users: Vec<ScimUser>,
    pub groups: Vec<ScimGroup>,
    /// (tenant, group, member)
    pub members: Vec<(tessera_domain::TenantId, ScimGroupId, ScimUserId)>,
}

fn slice<T: Clone>(matching: Vec<&T>, offset: u64, limit: u64) -> ScimSlice<T> {
    let total = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .cloned()
        .collect();
    ScimSlice { items, total }
}

fn name_taken(users: &[ScimUser], user: &ScimUser) -> bool {
    users.iter().any(|u| {
        u.tenant_id == user.tenant_id
            && u.id != user.id
            && u.user_name.as_str().to_lowercase() == user.user_name.as_str().to_lowercase()
    })
}

#[async_trait]
impl ScimRepository for FakeTransaction {
    async fn insert_token(&self, scope: &TenantScope, token: &ScimToken) -> StoreResult<()> {
        owned(scope, token.tenant_id)?;
        self.state().scim.tokens.push(token.clone());
        Ok(())
    }
    async fn find_token(&self, scope: &TenantScope, id: ScimTokenId) -> StoreResult<Option<ScimToken>> {
        Ok(self
            .state()
            .scim
            .tokens
            .iter()
            .find(|t| in_scope(scope, t.tenant_id) && t.id == id)
            .cloned())
    }
    async fn list_tokens(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<ScimToken>> {
        let mut tokens: Vec<_> = self
            .state()
            .scim
            .tokens
            .iter()
            .filter(|t| in_scope(scope, t.tenant_id))
            .cloned()
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        tokens.truncate(limit as usize);
        Ok(tokens)
    }
    async fn count_live_tokens(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .scim
            .tokens
            .iter()
            .filter(|t| in_scope(scope, t.tenant_id) && t.revoked_at.is_none())
            .count() as u64)
    }
    async fn revoke_token(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(token) = state
            .scim
            .tokens
            .iter_mut()
            .find(|t| in_scope(scope, t.tenant_id) && t.id == id && t.revoked_at.is_none())
        else {
            return Ok(false);
        };
        token.revoked_at = Some(at);
        Ok(true)
    }
    async fn record_token_use(&self, scope: &TenantScope, id: ScimTokenId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(token) = state
            .scim
            .tokens
            .iter_mut()
            .find(|t| in_scope(scope, t.tenant_id) && t.id == id)
        {
            token.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn insert_user(&self, scope: &TenantScope, user: &ScimUser) -> StoreResult<()> {
        owned(scope, user.tenant_id)?;
        let mut state = self.state();
        if user.user_id.is_some()
            && state
                .scim
                .users
                .iter()
                .any(|u| u.tenant_id == user.tenant_id && u.user_id == user.user_id)
        {
            return Err(StoreError::Duplicate("user"));
        }
        if name_taken(&state.scim.users, user) {
            return Err(StoreError::Duplicate("userName"));
        }
        state.scim.users.push(user.clone());
        Ok(())
    }
    async fn find_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<Option<ScimUser>> {
        Ok(self
            .state()
            .scim
            .users
            .iter()
            .find(|u| in_scope(scope, u.tenant_id) && u.id == id)
            .cloned())
    }
    async fn find_user_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<ScimUser>> {
        Ok(self
            .state()
            .scim
            .users
            .iter()
            .find(|u| in_scope(scope, u.tenant_id) && u.user_id == Some(user_id))
            .cloned())
    }
    async fn find_users(&self, scope: &TenantScope, ids: &[ScimUserId]) -> StoreResult<Vec<ScimUser>> {
        Ok(self
            .state()
            .scim
            .users
            .iter()
            .filter(|u| in_scope(scope, u.tenant_id) && ids.contains(&u.id))
            .cloned()
            .collect())
    }
    async fn update_user(&self, scope: &TenantScope, user: &ScimUser, expected_version: i64) -> StoreResult<()> {
        owned(scope, user.tenant_id)?;
        let mut state = self.state();
        // Like the conditional update: a row changed meanwhile matches nothing, before
        // any unique rule is looked at.
        if !state
            .scim
            .users
            .iter()
            .any(|u| in_scope(scope, u.tenant_id) && u.id == user.id && u.version == expected_version)
        {
            return Err(StoreError::Stale);
        }
        if name_taken(&state.scim.users, user)
            || user.user_id.is_some()
                && state
                    .scim
                    .users
                    .iter()
                    .any(|u| u.tenant_id == user.tenant_id && u.id != user.id && u.user_id == user.user_id)
        {
            return Err(StoreError::Duplicate(if name_taken(&state.scim.users, user) {
                "userName"
            } else {
                "user"
            }));
        }
        if let Some(row) = state.scim.users.iter_mut().find(|u| u.id == user.id) {
            *row = user.clone();
        }
        Ok(())
    }
    async fn delete_user(&self, scope: &TenantScope, id: ScimUserId) -> StoreResult<bool> {
        let mut state = self.state();
        state
            .scim
            .members
            .retain(|(tenant, _, member)| !(in_scope(scope, *tenant) && *member == id));
        let before = state.scim.users.len();
        state
            .scim
            .users
            .retain(|u| !(in_scope(scope, u.tenant_id) && u.id == id));
        Ok(state.scim.users.len() < before)
    }
    async fn list_users(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimUserFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimUser>> {
        let state = self.state();
        let mut matching: Vec<&ScimUser> = state
            .scim
            .users
            .iter()
            .filter(|u| in_scope(scope, u.tenant_id))
            .filter(|u| match filter {
                Some(ScimUserFilter::UserName(name)) => u.user_name.as_str().to_lowercase() == name.to_lowercase(),
                Some(ScimUserFilter::ExternalId(id)) => u.external_id.as_deref() == Some(id.as_str()),
                None => true,
            })
            .collect();
        matching.sort_by_key(|u| (u.created_at, u.id));
        Ok(slice(matching, offset, limit))
    }

    async fn insert_group(&self, scope: &TenantScope, group: &ScimGroup) -> StoreResult<()> {
        owned(scope, group.tenant_id)?;
        let mut state = self.state();
        if state.scim.groups.iter().any(|g| {
            g.tenant_id == group.tenant_id && g.display_name.to_lowercase() == group.display_name.to_lowercase()
        }) {
            return Err(StoreError::Duplicate("displayName"));
        }
        state.scim.groups.push(group.clone());
        Ok(())
    }
    async fn find_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<Option<ScimGroup>> {
        Ok(self
            .state()
            .scim
            .groups
            .iter()
            .find(|g| in_scope(scope, g.tenant_id) && g.id == id)
            .cloned())
    }
    async fn update_group(&self, scope: &TenantScope, group: &ScimGroup, expected_version: i64) -> StoreResult<()> {
        owned(scope, group.tenant_id)?;
        let mut state = self.state();
        let Some(index) = state
            .scim
            .groups
            .iter()
            .position(|g| in_scope(scope, g.tenant_id) && g.id == group.id && g.version == expected_version)
        else {
            return Err(StoreError::Stale);
        };
        if state.scim.groups.iter().any(|g| {
            g.tenant_id == group.tenant_id
                && g.id != group.id
                && g.display_name.to_lowercase() == group.display_name.to_lowercase()
        }) {
            return Err(StoreError::Duplicate("displayName"));
        }
        state.scim.groups[index] = group.clone();
        Ok(())
    }
    async fn delete_group(&self, scope: &TenantScope, id: ScimGroupId) -> StoreResult<bool> {
        let mut state = self.state();
        state
            .scim
            .members
            .retain(|(tenant, group, _)| !(in_scope(scope, *tenant) && *group == id));
        let before = state.scim.groups.len();
        state
            .scim
            .groups
            .retain(|g| !(in_scope(scope, g.tenant_id) && g.id == id));
        Ok(state.scim.groups.len() < before)
    }
    async fn list_groups(
        &self,
        scope: &TenantScope,
        filter: Option<&ScimGroupFilter>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<ScimSlice<ScimGroup>> {
        let state = self.state();
        let mut matching: Vec<&ScimGroup> = state
            .scim
            .groups
            .iter()
            .filter(|g| in_scope(scope, g.tenant_id))
            .filter(|g| match filter {
                Some(ScimGroupFilter::DisplayName(name)) => g.display_name.to_lowercase() == name.to_lowercase(),
                Some(ScimGroupFilter::ExternalId(id)) => g.external_id.as_deref() == Some(id.as_str()),
                None => true,
            })
            .collect();
        matching.sort_by_key(|g| (g.created_at, g.id));
        Ok(slice(matching, offset, limit))
    }
    async fn role_is_mapped(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<bool> {
        Ok(self
            .state()
            .scim
            .groups
            .iter()
            .any(|g| in_scope(scope, g.tenant_id) && g.role_id == Some(role_id)))
    }
    async fn group_members(
        &self,
        scope: &TenantScope,
        groups: &[ScimGroupId],
    ) -> StoreResult<Vec<(ScimGroupId, ScimUserId)>> {
        let mut out: Vec<_> = self
            .state()
            .scim
            .members
            .iter()
            .filter(|(tenant, group, _)| in_scope(scope, *tenant) && groups.contains(group))
            .map(|(_, group, member)| (*group, *member))
            .collect();
        out.sort();
        Ok(out)
    }
    async fn set_group_members(
        &self,
        scope: &TenantScope,
        group: ScimGroupId,
        members: &[ScimUserId],
    ) -> StoreResult<()> {
        let mut state = self.state();
        state
            .scim
            .members
            .retain(|(tenant, g, _)| !(in_scope(scope, *tenant) && *g == group));
        for member in members {
            state.scim.members.push((scope.tenant_id(), group, *member));
        }
        Ok(())
    }
    async fn groups_of(&self, scope: &TenantScope, users: &[ScimUserId]) -> StoreResult<Vec<(ScimUserId, ScimGroup)>> {
        let state = self.state();
        let mut out: Vec<_> = state
            .scim
            .members
            .iter()
            .filter(|(tenant, _, member)| in_scope(scope, *tenant) && users.contains(member))
            .filter_map(|(_, group, member)| {
                let group = state.scim.groups.iter().find(|g| g.id == *group)?;
                Some((*member, group.clone()))
            })
            .collect();
        out.sort_by(|a, b| (a.0, &a.1.display_name).cmp(&(b.0, &b.1.display_name)));
        Ok(out)
    }
}
