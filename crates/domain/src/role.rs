//! Roles: named permission sets inside one tenant. Four system roles are seeded for
//! every tenant; tenants may add their own.

use chrono::{DateTime, Utc};

use crate::{Name, Permission, PermissionSet, RoleId, TenantId};

/// The roles every tenant starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemRole {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl SystemRole {
    pub const ALL: [SystemRole; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer];

    pub const fn key(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.key() == key)
    }

    pub const fn display_name(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Member => "Member",
            Self::Viewer => "Viewer",
        }
    }

    /// The permissions a freshly seeded role carries.
    pub fn default_permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            Self::Owner => PermissionSet::all(),
            Self::Admin => Permission::ALL
                .iter()
                .copied()
                .filter(|p| *p != BillingManage)
                .collect(),
            Self::Member => [MembersRead, WorkspacesCreate].into_iter().collect(),
            Self::Viewer => [MembersRead].into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub tenant_id: TenantId,
    pub name: Name,
    /// `Some` for the seeded system roles.
    pub system: Option<SystemRole>,
    pub permissions: PermissionSet,
    pub created_at: DateTime<Utc>,
}

/// Why a role cannot be changed the way that was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleRuleError {
    #[error("the owner role cannot be edited or deleted")]
    OwnerIsFixed,
    #[error("system roles cannot be deleted")]
    SystemRoleCannotBeDeleted,
}

impl Role {
    /// A system role ready to be stored for a new tenant.
    pub fn seed(id: RoleId, tenant_id: TenantId, system: SystemRole, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant_id,
            name: Name::parse(system.display_name()).expect("system role names are valid names"),
            system: Some(system),
            permissions: system.default_permissions(),
            created_at: now,
        }
    }

    /// A tenant's own role.
    pub fn custom(id: RoleId, tenant_id: TenantId, name: Name, permissions: PermissionSet, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant_id,
            name,
            system: None,
            permissions,
            created_at: now,
        }
    }

    pub fn is_owner(&self) -> bool {
        self.system == Some(SystemRole::Owner)
    }

    /// Changes name and/or permissions; the owner role is fixed.
    pub fn edit(&mut self, name: Option<Name>, permissions: Option<PermissionSet>) -> Result<(), RoleRuleError> {
        if self.is_owner() {
            return Err(RoleRuleError::OwnerIsFixed);
        }
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(permissions) = permissions {
            self.permissions = permissions;
        }
        Ok(())
    }

    /// Only custom roles can be deleted.
    pub fn ensure_deletable(&self) -> Result<(), RoleRuleError> {
        match self.system {
            Some(SystemRole::Owner) => Err(RoleRuleError::OwnerIsFixed),
            Some(_) => Err(RoleRuleError::SystemRoleCannotBeDeleted),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_holds_every_permission_and_viewer_only_reads() {
        assert_eq!(SystemRole::Owner.default_permissions(), PermissionSet::all());
        let viewer = SystemRole::Viewer.default_permissions();
        assert!(viewer.contains(Permission::MembersRead));
        assert!(!viewer.contains(Permission::WorkspacesCreate));
        assert!(
            !SystemRole::Admin
                .default_permissions()
                .contains(Permission::BillingManage)
        );
    }

    #[test]
    fn the_owner_role_is_fixed_and_system_roles_are_kept() {
        let now = chrono::Utc::now();
        let tenant = TenantId::from_uuid(uuid::Uuid::nil());
        let mut owner = Role::seed(RoleId::from_uuid(uuid::Uuid::nil()), tenant, SystemRole::Owner, now);
        assert_eq!(
            owner.edit(None, Some(PermissionSet::default())),
            Err(RoleRuleError::OwnerIsFixed)
        );
        assert_eq!(owner.permissions, PermissionSet::all());
        assert_eq!(owner.ensure_deletable(), Err(RoleRuleError::OwnerIsFixed));

        let mut admin = Role::seed(RoleId::from_uuid(uuid::Uuid::nil()), tenant, SystemRole::Admin, now);
        assert!(admin.edit(None, Some(PermissionSet::default())).is_ok());
        assert!(admin.permissions.is_empty());
        assert_eq!(admin.ensure_deletable(), Err(RoleRuleError::SystemRoleCannotBeDeleted));

        let name = Name::parse("Auditor").expect("name");
        let custom = Role::custom(
            RoleId::from_uuid(uuid::Uuid::nil()),
            tenant,
            name,
            PermissionSet::default(),
            now,
        );
        assert_eq!(custom.ensure_deletable(), Ok(()));
    }

    #[test]
    fn system_role_keys_round_trip() {
        for role in SystemRole::ALL {
            assert_eq!(SystemRole::from_key(role.key()), Some(role));
        }
        assert_eq!(SystemRole::from_key("superuser"), None);
    }
}
