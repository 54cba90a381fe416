//! Workspaces and their members in memory.

use async_trait::async_trait;
use tessera_domain::{User, UserId, Workspace, WorkspaceId, WorkspaceMembership};

use crate::ports::{StoreError, StoreResult, WorkspaceRepository, WorkspaceWithMember};
use crate::{Page, PageRequest, TenantScope};

use super::store::*;

#[async_trait]
impl WorkspaceRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()> {
        owned(scope, workspace.tenant_id)?;
        let mut state = self.state();
        if state
            .workspaces
            .iter()
            .any(|w| w.tenant_id == workspace.tenant_id && w.slug == workspace.slug)
        {
            return Err(StoreError::Duplicate("slug"));
        }
        state.workspaces.push(workspace.clone());
        Ok(())
    }
    async fn insert_within(&self, scope: &TenantScope, workspace: &Workspace, limit: Option<u64>) -> StoreResult<bool> {
        let held = self
            .state()
            .workspaces
            .iter()
            .filter(|w| w.tenant_id == workspace.tenant_id)
            .count() as u64;
        if limit.is_some_and(|limit| held >= limit) {
            return Ok(false);
        }
        self.insert(scope, workspace).await.map(|()| true)
    }
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[WorkspaceId]) -> StoreResult<Vec<Workspace>> {
        Ok(pick(&self.state().workspaces, scope, |w| ids.contains(&w.id)))
    }
    async fn find_by_id(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(find_in(&self.state().workspaces, scope, |w| w.id == id))
    }
    async fn find_with_member(
        &self,
        scope: &TenantScope,
        id: WorkspaceId,
        user: Option<UserId>,
    ) -> StoreResult<Option<WorkspaceWithMember>> {
        let Some(workspace) = self.find_by_id(scope, id).await? else {
            return Ok(None);
        };
        let member = match user {
            Some(user) => self.find_member(scope, id, user).await?,
            None => None,
        };
        let member = match member {
            Some(member) => {
                let permissions = crate::ports::RoleRepository::permissions_of(self, scope, member.role_id).await?;
                Some((member, permissions))
            }
            None => None,
        };
        Ok(Some(WorkspaceWithMember { workspace, member }))
    }
    async fn update(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()> {
        let mut state = self.state();
        let stored = find_mut(&mut state.workspaces, scope, |w| w.id == workspace.id).ok_or(StoreError::NotFound)?;
        *stored = workspace.clone();
        Ok(())
    }
    async fn delete(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.workspaces.len();
        state
            .workspaces
            .retain(|w| !(in_scope(scope, w.tenant_id) && w.id == id));
        if state.workspaces.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn list(
        &self,
        scope: &TenantScope,
        member_of: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Workspace>> {
        let state = self.state();
        let rows: Vec<Workspace> = state
            .workspaces
            .iter()
            .filter(|w| in_scope(scope, w.tenant_id) && belongs(&state, w.id, member_of))
            .cloned()
            .collect();
        Ok(keyset_page(rows, page, |w| (w.created_at, w.id.as_uuid())))
    }
    async fn count(&self, scope: &TenantScope, member_of: Option<UserId>) -> StoreResult<u64> {
        let state = self.state();
        Ok(state
            .workspaces
            .iter()
            .filter(|w| in_scope(scope, w.tenant_id) && belongs(&state, w.id, member_of))
            .count() as u64)
    }
    async fn find_member(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Option<WorkspaceMembership>> {
        Ok(find_in(&self.state().workspace_members, scope, |m| {
            m.workspace_id == workspace_id && m.user_id == user_id
        }))
    }
    async fn memberships_of_user(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        Ok(pick(&self.state().workspace_members, scope, |m| {
            m.user_id == user_id && workspace_ids.contains(&m.workspace_id)
        }))
    }
    async fn first_members_with_users_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<(WorkspaceMembership, User)>> {
        let rows = self.first_members_of(scope, workspace_ids, per_workspace).await?;
        let state = self.state();
        rows.into_iter()
            .map(|row| {
                let user = state.users.iter().find(|u| u.id == row.user_id).cloned();
                user.map(|user| (row, user))
                    .ok_or_else(|| StoreError::failure("a workspace member without a user"))
            })
            .collect()
    }
    async fn first_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        let mut rows: Vec<WorkspaceMembership> = self
            .state()
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && workspace_ids.contains(&m.workspace_id))
            .cloned()
            .collect();
        rows.sort_by_key(|m| (m.workspace_id, m.created_at, m.id));
        let mut kept = Vec::new();
        for workspace in workspace_ids {
            kept.extend(
                rows.iter()
                    .filter(|m| m.workspace_id == *workspace)
                    .take(per_workspace as usize)
                    .cloned(),
            );
        }
        Ok(kept)
    }
    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let rows: Vec<WorkspaceMembership> = self
            .state()
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.workspace_id == workspace_id)
            .cloned()
            .collect();
        Ok(keyset_page(rows, page, |m| (m.created_at, m.id.as_uuid())))
    }
    async fn count_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<(WorkspaceId, u64)>> {
        let state = self.state();
        Ok(workspace_ids
            .iter()
            .map(|id| {
                let count = state
                    .workspace_members
                    .iter()
                    .filter(|m| in_scope(scope, m.tenant_id) && m.workspace_id == *id)
                    .count() as u64;
                (*id, count)
            })
            .filter(|(_, count)| *count > 0)
            .collect())
    }
    async fn first_workspaces_of(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
        per_user: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        let mut kept = Vec::new();
        for user in user_ids {
            let mut rows = workspaces_of_member(&self.state(), scope, *user, visible_to);
            rows.truncate(per_user as usize);
            kept.extend(rows);
        }
        Ok(kept)
    }
    async fn list_of_member(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        visible_to: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let rows = workspaces_of_member(&self.state(), scope, user_id, visible_to);
        Ok(keyset_page(rows, page, |m| (m.created_at, m.id.as_uuid())))
    }
    async fn count_of_members(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
    ) -> StoreResult<Vec<(UserId, u64)>> {
        let state = self.state();
        Ok(user_ids
            .iter()
            .map(|id| (*id, workspaces_of_member(&state, scope, *id, visible_to).len() as u64))
            .filter(|(_, count)| *count > 0)
            .collect())
    }
    async fn update_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        let mut state = self.state();
        let stored =
            find_mut(&mut state.workspace_members, scope, |m| m.id == member.id).ok_or(StoreError::NotFound)?;
        *stored = member.clone();
        Ok(())
    }
    async fn remove_member(&self, scope: &TenantScope, workspace_id: WorkspaceId, user_id: UserId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.workspace_members.len();
        state
            .workspace_members
            .retain(|m| !(in_scope(scope, m.tenant_id) && m.workspace_id == workspace_id && m.user_id == user_id));
        if state.workspace_members.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn add_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        owned(scope, member.tenant_id)?;
        self.state().workspace_members.push(member.clone());
        Ok(())
    }
    async fn remove_member_everywhere(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<()> {
        self.state()
            .workspace_members
            .retain(|m| !(in_scope(scope, m.tenant_id) && m.user_id == user_id));
        Ok(())
    }
}
