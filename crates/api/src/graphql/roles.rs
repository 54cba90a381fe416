//! The permission catalogue and tenant roles.

use async_graphql::{Object, SimpleObject};
use tessera_domain::Permission;

/// One entry of the closed permission catalogue, for role editors.
#[derive(SimpleObject, Clone)]
pub struct PermissionInfo {
    /// Stable name, e.g. `members:invite`.
    pub name: String,
    /// Display group, e.g. `Members`.
    pub group: String,
    pub description: String,
}

impl From<Permission> for PermissionInfo {
    fn from(permission: Permission) -> Self {
        Self {
            name: permission.as_str().to_owned(),
            group: permission.group().to_owned(),
            description: permission.description().to_owned(),
        }
    }
}

#[derive(Default)]
pub struct RoleQuery;

#[Object]
impl RoleQuery {
    /// Every permission a role can grant, in catalogue order.
    async fn permissions(&self) -> Vec<PermissionInfo> {
        Permission::ALL.iter().copied().map(PermissionInfo::from).collect()
    }
}
