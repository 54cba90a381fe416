//! The closed catalogue of permissions. Names are stable strings stored in the database
//! and shown to clients; adding a permission is a code change, never a data change.

use std::collections::BTreeSet;
use std::fmt;

macro_rules! permissions {
    ($($variant:ident => $name:literal, $group:literal, $description:literal;)*) => {
        /// One thing a member may be allowed to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $($variant,)*
        }

        impl Permission {
            /// Every permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            /// The stable name, e.g. `members:invite`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            /// The display group a role editor shows it under.
            pub const fn group(self) -> &'static str {
                match self { $(Permission::$variant => $group,)* }
            }

            pub const fn description(self) -> &'static str {
                match self { $(Permission::$variant => $description,)* }
            }

            pub fn parse(name: &str) -> Option<Permission> {
                match name { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    TenantUpdate => "tenant:update", "Tenant", "Change the tenant's name, settings and branding";
    MembersRead => "members:read", "Members", "See who belongs to the tenant";
    MembersInvite => "members:invite", "Members", "Invite people to the tenant";
    MembersManage => "members:manage", "Members", "Change members' roles and remove members";
    RolesManage => "roles:manage", "Roles", "Create, edit and delete roles";
    WorkspacesCreate => "workspaces:create", "Workspaces", "Create workspaces";
    WorkspacesManage => "workspaces:manage", "Workspaces", "Rename and delete any workspace and manage its members";
    ApiKeysManage => "api_keys:manage", "Integrations", "Create and revoke API keys";
    AuditRead => "audit:read", "Security", "Read the audit trail";
    WebhooksManage => "webhooks:manage", "Integrations", "Configure webhooks";
    BillingManage => "billing:manage", "Billing", "Change the plan and billing details";
    AnalyticsRead => "analytics:read", "Analytics", "See the tenant's usage and analytics";
    SchemaRead => "schema:read", "Integrations", "Read the API's schema (introspection, GraphiQL's documentation) where the deployment does not show it to everyone";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions, ordered for stable output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    pub fn all() -> Self {
        Self(Permission::ALL.iter().copied().collect())
    }
    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// True when every permission here is also in `other`.
    pub fn is_subset(&self, other: &PermissionSet) -> bool {
        self.0.is_subset(&other.0)
    }
    /// The permissions here that `other` lacks.
    pub fn missing_from(&self, other: &PermissionSet) -> PermissionSet {
        Self(self.0.difference(&other.0).copied().collect())
    }
    /// Parses stable names; the unknown ones are returned as the error.
    pub fn parse_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, Vec<String>> {
        let mut set = BTreeSet::new();
        let mut unknown = Vec::new();
        for name in names {
            match Permission::parse(name.trim()) {
                Some(permission) => {
                    set.insert(permission);
                }
                None => unknown.push(name.to_owned()),
            }
        }
        if unknown.is_empty() {
            Ok(Self(set))
        } else {
            Err(unknown)
        }
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Permission::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_round_trips_through_its_name() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Some(*permission));
            assert!(!permission.description().is_empty());
            assert!(!permission.group().is_empty());
        }
        assert_eq!(Permission::parse("members:delete-everything"), None);
    }

    #[test]
    fn sets_compare_and_parse_names() {
        let small: PermissionSet = [Permission::MembersRead].into_iter().collect();
        let big: PermissionSet = [Permission::MembersRead, Permission::RolesManage].into_iter().collect();
        assert!(small.is_subset(&big) && !big.is_subset(&small));
        assert_eq!(big.missing_from(&small).to_string(), "roles:manage");
        assert_eq!(PermissionSet::parse_names(["members:read", " roles:manage "]), Ok(big));
        assert_eq!(
            PermissionSet::parse_names(["members:read", "root"]),
            Err(vec!["root".to_owned()])
        );
    }

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), Permission::ALL.len());
    }
}
