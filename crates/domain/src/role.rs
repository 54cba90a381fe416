//! Roles: named permission sets inside one tenant. Four system roles are seeded for
//! every tenant; tenants may add their own.

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
}

impl Role {
    /// A system role ready to be stored for a new tenant.
    pub fn seed(id: RoleId, tenant_id: TenantId, system: SystemRole) -> Self {
        Self {
            id,
            tenant_id,
            name: Name::parse(system.display_name()).expect("system role names are valid names"),
            system: Some(system),
            permissions: system.default_permissions(),
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
    fn system_role_keys_round_trip() {
        for role in SystemRole::ALL {
            assert_eq!(SystemRole::from_key(role.key()), Some(role));
        }
        assert_eq!(SystemRole::from_key("superuser"), None);
    }
}
