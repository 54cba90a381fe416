//! What a caller may do in one workspace: tenant-level permissions apply to every
//! workspace; a workspace role adds its permissions inside that workspace only.
//! Without tenant-level `workspaces:manage`, a caller sees only the workspaces they
//! belong to; the others answer as if they did not exist.

use tessera_domain::{Permission, PermissionSet, Workspace, WorkspaceId};

use crate::ports::Transaction;
use crate::{AppError, RequestContext};

/// A workspace the caller can see, with the permissions they hold inside it.
pub(crate) struct WorkspaceGrant {
    pub workspace: Workspace,
    pub permissions: PermissionSet,
}

impl WorkspaceGrant {
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                reason: "MISSING_PERMISSION",
                message: format!("this operation needs the `{permission}` permission in this workspace"),
            })
        }
    }
}

pub(crate) fn sees_every_workspace(ctx: &RequestContext) -> bool {
    ctx.permissions().contains(Permission::WorkspacesManage)
}

/// `Ok(None)` when the workspace does not exist or is not visible to the caller.
pub(crate) async fn grant_for(
    tx: &dyn Transaction,
    ctx: &RequestContext,
    id: WorkspaceId,
) -> Result<Option<WorkspaceGrant>, AppError> {
    let scope = ctx.member_scope()?;
    let Some(workspace) = tx.workspaces().find_by_id(scope, id).await? else {
        return Ok(None);
    };
    let membership = tx.workspaces().find_member(scope, id, ctx.user_id()).await?;
    let local = match &membership {
        Some(member) => tx.roles().permissions_of(scope, member.role_id).await?,
        None if sees_every_workspace(ctx) => PermissionSet::default(),
        None => return Ok(None),
    };
    let permissions = ctx.permissions().iter().chain(local.iter()).collect();
    Ok(Some(WorkspaceGrant { workspace, permissions }))
}
