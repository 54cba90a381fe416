//! Members of the caller's tenant: listing, role changes, removal, leaving and
//! ownership transfer. The last owner can never be removed, demoted or leave.

mod commands;
mod queries;

pub use queries::MemberListFilter;

use tessera_domain::{Membership, MembershipStatus, Role, SystemRole};

use crate::ports::Transaction;
use crate::{AppError, TenantScope};

/// Refuses when `membership` is the tenant's last active owner.
async fn ensure_not_last_owner(
    tx: &dyn Transaction,
    scope: &TenantScope,
    membership: &Membership,
    role: &Role,
) -> Result<(), AppError> {
    if !role.is_owner() || membership.status != MembershipStatus::Active {
        return Ok(());
    }
    let owners = tx
        .memberships()
        .count(
            scope,
            &crate::ports::MemberFilter {
                role_id: Some(role.id),
                status: Some(MembershipStatus::Active),
                search: None,
            },
        )
        .await?;
    if owners <= 1 {
        return Err(AppError::Forbidden {
            reason: "LAST_OWNER",
            message: "the tenant's last owner cannot be removed, demoted or leave; transfer ownership first".into(),
        });
    }
    Ok(())
}

async fn system_role(tx: &dyn Transaction, scope: &TenantScope, system: SystemRole) -> Result<Role, AppError> {
    tx.roles()
        .find_system(scope, system)
        .await?
        .ok_or_else(|| AppError::internal(format!("the {} system role is missing", system.key())))
}
