//! Who belongs to a workspace, with which workspace role.

use std::collections::HashMap;

use tessera_domain::{
    Permission, Role, RoleId, UserId, Workspace, WorkspaceId, WorkspaceMembership, WorkspaceMembershipId,
};

use super::access::{Visibility, grant_for};
use crate::ForbiddenReason;
use crate::ports::StoreError;
use crate::{AppError, Application, Page, PageRequest, PageWithPeople, RequestContext, WithPeople};

#[derive(Debug, Clone)]
pub struct WorkspaceMemberChange {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub role_id: RoleId,
}

impl Application {
    /// The first `first` members of each of these workspaces, with the users and roles
    /// they point at as `with` asks (read in the same transaction), for a list that shows
    /// workspaces with their members: a fixed number of statements however many
    /// workspaces there are. Workspaces the caller cannot see are left out.
    #[tracing::instrument(level = "debug", name = "first_members_of_workspaces", skip_all, fields(workspaces = workspace_ids.len()))]
    pub async fn first_members_of_workspaces(
        &self,
        ctx: &RequestContext,
        workspace_ids: &[WorkspaceId],
        first: u32,
        with: WithPeople,
    ) -> Result<HashMap<WorkspaceId, PageWithPeople<WorkspaceMembership>>, AppError> {
        let scope = ctx.member_scope()?;
        let request = PageRequest::parse(Some(i32::try_from(first).unwrap_or(i32::MAX)), None, None, None)?;
        let tx = self.tenant_tx(scope).await?;
        let visible = visible_among(tx.as_ref(), ctx, workspace_ids).await?;
        let per_workspace = u64::from(request.limit) + 1;
        // The users, when asked for, come joined to the rows (one statement for both).
        let (rows, users) = match with.users {
            true => tx
                .workspaces()
                .first_members_with_users_of(scope, &visible, per_workspace)
                .await?
                .into_iter()
                .unzip(),
            false => (
                tx.workspaces().first_members_of(scope, &visible, per_workspace).await?,
                Vec::new(),
            ),
        };
        let role_of = |m: &WorkspaceMembership| (m.user_id, m.role_id);
        let only_roles = WithPeople {
            users: false,
            roles: with.roles,
        };
        let (_, roles) = self
            .read_people(tx.as_ref(), ctx, scope, rows.iter().map(role_of), only_roles)
            .await?;
        let mut grouped: HashMap<WorkspaceId, Vec<WorkspaceMembership>> =
            visible.iter().map(|id| (*id, Vec::new())).collect();
        for row in rows {
            if let Some(members) = grouped.get_mut(&row.workspace_id) {
                members.push(row);
            }
        }
        let pages = grouped
            .into_iter()
            .map(|(id, members)| (id, Page::from_scan(&request, members)))
            .collect();
        Ok(PageWithPeople::distribute(pages, users, roles, role_of))
    }

    /// Members of a workspace the caller can see.
    #[tracing::instrument(level = "debug", name = "list_workspace_members", skip_all, fields(workspace_id = %workspace_id))]
    pub async fn list_workspace_members(
        &self,
        ctx: &RequestContext,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<WorkspaceMembership>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        grant_for(tx.as_ref(), ctx, workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        Ok(tx.workspaces().list_members(scope, workspace_id, page).await?)
    }

    /// The first `first` workspace memberships of each of these members, for a list of
    /// members that shows their workspaces: one statement however many members. Only
    /// workspaces the caller can see are included.
    #[tracing::instrument(level = "debug", name = "first_workspaces_of_members", skip_all, fields(members = user_ids.len()))]
    pub async fn first_workspaces_of_members(
        &self,
        ctx: &RequestContext,
        user_ids: &[UserId],
        first: u32,
    ) -> Result<HashMap<UserId, Page<WorkspaceMembership>>, AppError> {
        let (scope, visibility) = member_workspaces_access(ctx, user_ids)?;
        let request = PageRequest::parse(Some(i32::try_from(first).unwrap_or(i32::MAX)), None, None, None)?;
        let rows = match visibility.member_filter() {
            Ok(visible_to) => {
                let tx = self.tenant_tx(scope).await?;
                tx.workspaces()
                    .first_workspaces_of(scope, user_ids, visible_to, u64::from(request.limit) + 1)
                    .await?
            }
            Err(()) => Vec::new(),
        };
        let mut grouped: HashMap<UserId, Vec<WorkspaceMembership>> =
            user_ids.iter().map(|id| (*id, Vec::new())).collect();
        for row in rows {
            if let Some(workspaces) = grouped.get_mut(&row.user_id) {
                workspaces.push(row);
            }
        }
        Ok(grouped
            .into_iter()
            .map(|(id, rows)| (id, Page::from_scan(&request, rows)))
            .collect())
    }

    /// A member's workspace memberships (those the caller can see), keyset-paged.
    #[tracing::instrument(level = "debug", name = "list_member_workspaces", skip_all, fields(user_id = %user_id))]
    pub async fn list_member_workspaces(
        &self,
        ctx: &RequestContext,
        user_id: UserId,
        page: &PageRequest,
    ) -> Result<Page<WorkspaceMembership>, AppError> {
        let (scope, visibility) = member_workspaces_access(ctx, &[user_id])?;
        let Ok(visible_to) = visibility.member_filter() else {
            return Ok(Page::empty());
        };
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.workspaces().list_of_member(scope, user_id, visible_to, page).await?)
    }

    /// How many workspaces (that the caller can see) each of these members belongs
    /// to, in one statement: the batch behind a member's workspace count.
    #[tracing::instrument(level = "debug", name = "count_workspaces_of_members", skip_all, fields(members = user_ids.len()))]
    pub async fn count_workspaces_of_members(
        &self,
        ctx: &RequestContext,
        user_ids: &[UserId],
    ) -> Result<HashMap<UserId, u64>, AppError> {
        let (scope, visibility) = member_workspaces_access(ctx, user_ids)?;
        let Ok(visible_to) = visibility.member_filter() else {
            return Ok(with_zeros(user_ids, Vec::new()));
        };
        let tx = self.tenant_tx(scope).await?;
        let counted = tx.workspaces().count_of_members(scope, user_ids, visible_to).await?;
        Ok(with_zeros(user_ids, counted))
    }

    /// These workspaces of the caller's tenant, as far as the caller can see them, in
    /// one statement (two for a caller who sees only their own workspaces).
    #[tracing::instrument(level = "debug", name = "workspaces_by_ids", skip_all, fields(workspaces = ids.len()))]
    pub async fn workspaces_by_ids(
        &self,
        ctx: &RequestContext,
        ids: &[WorkspaceId],
    ) -> Result<Vec<Workspace>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let visible = visible_among(tx.as_ref(), ctx, ids).await?;
        Ok(tx.workspaces().find_by_ids(scope, &visible).await?)
    }

    /// How many members each of these workspaces has, in one statement (two for a
    /// caller who sees only their own workspaces): the batch behind a workspace's
    /// member count. Workspaces the caller cannot see are absent.
    #[tracing::instrument(level = "debug", name = "count_members_of_workspaces", skip_all, fields(workspaces = ids.len()))]
    pub async fn count_members_of_workspaces(
        &self,
        ctx: &RequestContext,
        ids: &[WorkspaceId],
    ) -> Result<HashMap<WorkspaceId, u64>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let visible = visible_among(tx.as_ref(), ctx, ids).await?;
        let counted = tx.workspaces().count_members_of(scope, &visible).await?;
        Ok(with_zeros(&visible, counted))
    }

    /// Adds an active tenant member to a workspace with a workspace role. Needs
    /// `workspaces:manage` there, and every permission the role grants.
    #[tracing::instrument(level = "debug", name = "add_workspace_member", skip_all, fields(workspace_id = %change.workspace_id))]
    pub async fn add_workspace_member(
        &self,
        ctx: &RequestContext,
        change: WorkspaceMemberChange,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
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
        self.commit_with(tx, &event).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "update_workspace_member", skip_all, fields(workspace_id = %change.workspace_id))]
    pub async fn update_workspace_member(
        &self,
        ctx: &RequestContext,
        change: WorkspaceMemberChange,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
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
        member.change_role(role.id);
        tx.workspaces().update_member(scope, &member).await?;
        let event = ctx
            .audit(
                "workspace.member_updated",
                "workspace",
                change.workspace_id,
                self.ports.clock.now(),
            )
            .change(&member_role_field(change.user_id), Some(current.id), Some(role.id));
        self.commit_with(tx, &event).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "remove_workspace_member", skip_all, fields(workspace_id = %workspace_id))]
    pub async fn remove_workspace_member(
        &self,
        ctx: &RequestContext,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> Result<(), AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, workspace_id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        let leaving_myself = ctx.person() == Some(user_id);
        if !leaving_myself {
            grant.require(Permission::WorkspacesManage)?;
        }
        let member = tx
            .workspaces()
            .find_member(scope, workspace_id, user_id)
            .await?
            .ok_or(AppError::NotFound("workspace member"))?;
        if !leaving_myself {
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
        self.commit_with(tx, &event).await?;
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
            reason: ForbiddenReason::PermissionEscalation,
            message: format!("you cannot grant permissions you do not hold: {missing}"),
        })
    }
}

/// Who may look at members' workspaces: a person at their own, `members:read` for
/// others' ([`RequestContext::authorize_member_read`]). A person without
/// `workspaces:manage` sees only workspaces they belong to; such an API key, none.
fn member_workspaces_access<'a>(
    ctx: &'a RequestContext,
    user_ids: &[UserId],
) -> Result<(&'a crate::TenantScope, Visibility), AppError> {
    let scope = ctx.member_scope()?;
    for user_id in user_ids {
        ctx.authorize_member_read(*user_id)?;
    }
    Ok((scope, Visibility::of(ctx)))
}

/// Those of these workspaces the caller can see: all of them for holders of
/// `workspaces:manage`, otherwise those a person belongs to (one statement), and none
/// for an API key without it.
async fn visible_among(
    tx: &dyn crate::ports::Transaction,
    ctx: &RequestContext,
    ids: &[WorkspaceId],
) -> Result<Vec<WorkspaceId>, AppError> {
    match Visibility::of(ctx) {
        Visibility::All => Ok(ids.to_vec()),
        Visibility::Nothing => Ok(Vec::new()),
        Visibility::MemberOf(user_id) => Ok(tx
            .workspaces()
            .memberships_of_user(ctx.member_scope()?, user_id, ids)
            .await?
            .into_iter()
            .map(|m| m.workspace_id)
            .collect()),
    }
}

/// Every key with its count, zero where the grouped count had no row.
fn with_zeros<K: Copy + Eq + std::hash::Hash>(keys: &[K], counted: Vec<(K, u64)>) -> HashMap<K, u64> {
    let mut all: HashMap<K, u64> = keys.iter().map(|key| (*key, 0)).collect();
    for (key, count) in counted {
        if let Some(slot) = all.get_mut(&key) {
            *slot = count;
        }
    }
    all
}
