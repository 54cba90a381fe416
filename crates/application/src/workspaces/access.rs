//! What a caller may do in one workspace: tenant-level permissions apply to every
//! workspace; a workspace role adds its permissions inside that workspace only.
//! Without tenant-level `workspaces:manage`, a person sees only the workspaces they
//! belong to; the others answer as if they did not exist. An API key belongs to no
//! workspace: it reaches workspaces only through the `workspaces:*` permissions
//! written on it (with `workspaces:manage`, every workspace; without, none).

use tessera_domain::{Permission, PermissionSet, UserId, Workspace, WorkspaceId};

use crate::ForbiddenReason;
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
                reason: ForbiddenReason::MissingPermission,
                message: format!("this operation needs the `{permission}` permission in this workspace"),
            })
        }
    }
}

pub(crate) fn sees_every_workspace(ctx: &RequestContext) -> bool {
    ctx.permissions().contains(Permission::WorkspacesManage)
}

/// Which workspaces a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visibility {
    /// Every workspace of the tenant (tenant-level `workspaces:manage`).
    All,
    /// Those this person belongs to.
    MemberOf(UserId),
    /// None: an API key without `workspaces:manage`.
    Nothing,
}

impl Visibility {
    pub(crate) fn of(ctx: &RequestContext) -> Self {
        if sees_every_workspace(ctx) {
            return Self::All;
        }
        match ctx.person() {
            Some(user_id) => Self::MemberOf(user_id),
            None => Self::Nothing,
        }
    }

    /// The repository filter: `None` for every workspace, `Some(user)` for a person's
    /// own; `Err(())` when nothing is visible (no statement needed).
    pub(crate) fn member_filter(self) -> Result<Option<UserId>, ()> {
        match self {
            Self::All => Ok(None),
            Self::MemberOf(user_id) => Ok(Some(user_id)),
            Self::Nothing => Err(()),
        }
    }
}

/// `Ok(None)` when the workspace does not exist or is not visible to the caller.
pub(crate) async fn grant_for(
    tx: &dyn Transaction,
    ctx: &RequestContext,
    id: WorkspaceId,
) -> Result<Option<WorkspaceGrant>, AppError> {
    let scope = ctx.member_scope()?;
    // Only a person holds workspace roles; a key acts with its own permissions alone.
    let Some(found) = tx.workspaces().find_with_member(scope, id, ctx.person()).await? else {
        return Ok(None);
    };
    let workspace = found.workspace;
    let local = match found.member {
        Some((_, permissions)) => permissions,
        None if sees_every_workspace(ctx) => PermissionSet::default(),
        None => return Ok(None),
    };
    let permissions = ctx.permissions().iter().chain(local.iter()).collect();
    Ok(Some(WorkspaceGrant { workspace, permissions }))
}
