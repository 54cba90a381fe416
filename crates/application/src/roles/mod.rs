//! Tenant roles: the system roles seeded at sign-up and the tenant's own roles.

mod commands;
mod queries;

pub use commands::{CreateRole, DeleteRole, UpdateRole};

use tessera_domain::{Permission, PermissionSet, RoleRuleError};

use crate::AppError;
use crate::ForbiddenReason;

/// The message names the unknown permissions.
fn parse_permissions(names: &[String]) -> Result<PermissionSet, String> {
    PermissionSet::parse_names(names.iter().map(String::as_str))
        .map_err(|unknown| format!("unknown permissions: {}", unknown.join(", ")))
}

/// A permission set as the audit trail records it: stable names joined with `,`.
pub(crate) fn permission_list(permissions: &PermissionSet) -> String {
    permissions.iter().map(Permission::as_str).collect::<Vec<_>>().join(",")
}

fn role_rule(error: RoleRuleError) -> AppError {
    let reason = match error {
        RoleRuleError::OwnerIsFixed => ForbiddenReason::OwnerRoleFixed,
        RoleRuleError::SystemRoleCannotBeDeleted => ForbiddenReason::SystemRole,
    };
    AppError::Forbidden {
        reason,
        message: error.to_string(),
    }
}
