//! Who belongs to a workspace, with which workspace role.

use std::collections::HashMap;

use tessera_domain::{Permission, Role, RoleId, User, UserId, WorkspaceId, WorkspaceMembership, WorkspaceMembershipId};

use super::access::grant_for;
use crate::ports::StoreError;
use crate::{AppError, Application, Page, PageRequest, RequestContext};

/// A workspace member with the person and their workspace role.
#[derive(Debug, Clone)]
pub struct WorkspaceMemberView {
    pub membership: WorkspaceMembership,
    pub user: User,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct WorkspaceMemberChange {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub role_id: RoleId,
}

impl Application {
    /// The first `first` members of each of these workspaces, for a list that shows
    /// workspaces with their members: a fixed number of statements however many
    /// workspaces there are. Workspaces the caller cannot see are left out.
    #[tracing::instrument(name = "first_members_of_workspaces", skip_all, fields(workspaces = workspace_ids.len()))]
    pub async fn first_members_of_workspaces(
        &self,
        ctx: &RequestContext,
        workspace_ids: &[WorkspaceId],
        first: u32,
    ) -> Result<HashMap<WorkspaceId, Page<WorkspaceMemberView>>, AppError> {
        let scope = ctx.member_scope()?;
        let request = PageRequest::parse(Some(i32::try_from(first).unwrap_or(i32::MAX)), None, None, None)?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        let visible: Vec<WorkspaceId> = if super::access::sees_every_workspace(ctx) {
            workspace_ids.to_vec()
        } else {
            tx.workspaces()
                .memberships_of_user(scope, ctx.user_id(), workspace_ids)
                .await?
                .into_iter()
                .map(|m| m.workspace_id)
                .collect()
        };
        let rows = tx
            .workspaces()
            .first_members_of(scope, &visible, u64::from(request.limit) + 1)
            .await?;
        let views = workspace_views(tx.as_ref(), scope, rows).await?;
        let mut grouped: HashMap<WorkspaceId, Vec<WorkspaceMemberView>> =
            visible.iter().map(|id| (*id, Vec::new())).collect();
        for view in views {
            if let Some(members) = grouped.get_mut(&view.membership.workspace_id) {
                members.push(view);
            }
        }
        Ok(grouped
            .into_iter()
            .map(|(id, members)| (id, Page::from_scan(&request, members)))
            .collect())
    }

    /// Members of a workspace the caller can see.
    #[tracing::instrument(name = "list_workspace_members", skip_all, fields(workspace_id = %workspace_id))]
    pub async fn list_workspace_members(
        &self,
        ctx: &RequestContext,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<WorkspaceMemberView>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        grant_for(tx.as_ref(), ctx, workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        let page = tx.workspaces().list_members(scope, workspace_id, page).await?;
        let items = workspace_views(tx.as_ref(), scope, page.items).await?;
        Ok(Page {
            items,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
        })
    }

    pub async fn count_workspace_members(
        &self,
        ctx: &RequestContext,
        workspace_id: WorkspaceId,
    ) -> Result<u64, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        grant_for(tx.as_ref(), ctx, workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        Ok(tx.workspaces().count_members(scope, workspace_id).await?)
    }

    /// Adds an active tenant member to a workspace with a workspace role. Needs
    /// `workspaces:manage` there, and every permission the role grants.
    #[tracing::instrument(name = "add_workspace_member", skip_all, fields(workspace_id = %change.workspace_id))]
    pub async fn add_workspace_member(
        &self,
        ctx: &RequestContext,
        change: WorkspaceMemberChange,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, change.workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        grant.require(Permission::WorkspacesManage)?;
        tx.memberships()
            .find_by_user(scope, change.user_id)
            .await?
            .filter(|m| m.is_active())
            .ok_or(AppError::NotFound("member"))?;
        let role = tx
            .roles()
            .find_by_id(scope, change.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ensure_within(&grant.permissions, &role)?;
        let member = WorkspaceMembership {
            id: WorkspaceMembershipId::from_uuid(self.ports.ids.new_id()),
            tenant_id: scope.tenant_id(),
            workspace_id: change.workspace_id,
            user_id: change.user_id,
            role_id: role.id,
            created_at: self.ports.clock.now(),
        };
        tx.workspaces()
            .add_member(scope, &member)
            .await
            .map_err(|error| match error {
                StoreError::Duplicate(_) => AppError::Conflict {
                    field: "userId".into(),
                    message: "this user is already a member of the workspace".into(),
                },
                other => other.into(),
            })?;
        let event = ctx
            .audit(
                "workspace.member_added",
                "workspace",
                change.workspace_id,
                member.created_at,
            )
            .change(&member_role_field(change.user_id), None::<String>, Some(role.id));
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "update_workspace_member", skip_all, fields(workspace_id = %change.workspace_id))]
    pub async fn update_workspace_member(
        &self,
        ctx: &RequestContext,
        change: WorkspaceMemberChange,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, change.workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        grant.require(Permission::WorkspacesManage)?;
        let mut member = tx
            .workspaces()
            .find_member(scope, change.workspace_id, change.user_id)
            .await?
            .ok_or(AppError::NotFound("workspace member"))?;
        let current = tx
            .roles()
            .find_by_id(scope, member.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        let role = tx
            .roles()
            .find_by_id(scope, change.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ensure_within(&grant.permissions, &current)?;
        ensure_within(&grant.permissions, &role)?;
        member.role_id = role.id;
        tx.workspaces().update_member(scope, &member).await?;
        let event = ctx
            .audit(
                "workspace.member_updated",
                "workspace",
                change.workspace_id,
                self.ports.clock.now(),
            )
            .change(&member_role_field(change.user_id), Some(current.id), Some(role.id));
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "remove_workspace_member", skip_all, fields(workspace_id = %workspace_id))]
    pub async fn remove_workspace_member(
        &self,
        ctx: &RequestContext,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        if user_id != ctx.user_id() {
            grant.require(Permission::WorkspacesManage)?;
        }
        let member = tx
            .workspaces()
            .find_member(scope, workspace_id, user_id)
            .await?
            .ok_or(AppError::NotFound("workspace member"))?;
        if user_id != ctx.user_id() {
            let role = tx
                .roles()
                .find_by_id(scope, member.role_id)
                .await?
                .ok_or(AppError::NotFound("role"))?;
            ensure_within(&grant.permissions, &role)?;
        }
        tx.workspaces()
            .remove_member(scope, workspace_id, user_id)
            .await
            .map_err(|error| match error {
                StoreError::NotFound => AppError::NotFound("workspace member"),
                other => other.into(),
            })?;
        let event = ctx
            .audit(
                "workspace.member_removed",
                "workspace",
                workspace_id,
                self.ports.clock.now(),
            )
            .change(&member_role_field(user_id), Some(member.role_id), None::<String>);
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Workspace events target the workspace; the member concerned is named in the field,
/// so one change reads "this member's workspace role went from … to …".
fn member_role_field(user_id: UserId) -> String {
    format!("member.{user_id}.role_id")
}

/// A role handed out (or taken away) inside a workspace must not exceed what the caller holds there.
fn ensure_within(held: &tessera_domain::PermissionSet, role: &Role) -> Result<(), AppError> {
    let missing = role.permissions.missing_from(held);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            reason: "PERMISSION_ESCALATION",
            message: format!("you cannot grant permissions you do not hold: {missing}"),
        })
    }
}

/// Workspace memberships with their users and workspace roles.
async fn workspace_views(
    tx: &dyn crate::ports::Transaction,
    scope: &crate::TenantScope,
    rows: Vec<WorkspaceMembership>,
) -> Result<Vec<WorkspaceMemberView>, AppError> {
    crate::people::with_people(
        tx,
        scope,
        rows,
        |m| (m.user_id, m.role_id),
        |membership, user, role| WorkspaceMemberView { membership, user, role },
    )
    .await
}
