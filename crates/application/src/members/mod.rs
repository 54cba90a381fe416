//! Members of the caller's tenant: listing, role changes, removal, leaving and
//! ownership transfer. The last owner can never be removed, demoted or leave.

mod commands;
mod queries;

pub use queries::MemberListFilter;

use tessera_domain::{Membership, MembershipStatus, Role, SystemRole};

use crate::ForbiddenReason;
use crate::ports::Transaction;
use crate::{AppError, TenantScope};

/// Refuses when `membership` is the tenant's last active owner. The owner set stays
/// locked until the caller's transaction ends, so two owners leaving or demoting each
/// other at the same moment cannot both pass: the second waits, then counts again.
pub(crate) async fn ensure_not_last_owner(
    tx: &dyn Transaction,
    scope: &TenantScope,
    membership: &Membership,
    role: &Role,
) -> Result<(), AppError> {
    if !role.is_owner() || membership.status != MembershipStatus::Active {
        return Ok(());
    }
    let owners = tx.memberships().lock_active_holders(scope, role.id).await?;
    let others = owners.iter().filter(|owner| **owner != membership.user_id).count();
    if others == 0 {
        return Err(AppError::Forbidden {
            reason: ForbiddenReason::LastOwner,
            message: "the tenant's last owner cannot be removed, demoted or leave; transfer ownership first".into(),
        });
    }
    Ok(())
}

pub(crate) async fn system_role(
    tx: &dyn Transaction,
    scope: &TenantScope,
    system: SystemRole,
) -> Result<Role, AppError> {
    tx.roles()
        .find_system(scope, system)
        .await?
        .ok_or_else(|| AppError::internal(format!("the {} system role is missing", system.key())))
}
