//! Memberships link a global user to a tenant (with a role) and to workspaces.

use chrono::{DateTime, Utc};

use crate::{MembershipId, RoleId, TenantId, UserId, WorkspaceId, WorkspaceMembershipId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipStatus {
    Invited,
    Active,
    Removed,
}

impl MembershipStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Removed => "removed",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "removed" => Some(Self::Removed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: MembershipId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role_id: RoleId,
    pub status: MembershipStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Membership {
    pub fn is_active(&self) -> bool {
        self.status == MembershipStatus::Active
    }

    /// The member now holds `role_id`.
    pub fn change_role(&mut self, role_id: RoleId, now: DateTime<Utc>) {
        self.role_id = role_id;
        self.updated_at = now;
    }

    /// The person is no longer a member (removed, or left).
    pub fn remove(&mut self, now: DateTime<Utc>) {
        self.status = MembershipStatus::Removed;
        self.updated_at = now;
    }

    /// A former (or invited) member becomes active again with `role_id`.
    pub fn reactivate(&mut self, role_id: RoleId, now: DateTime<Utc>) {
        self.status = MembershipStatus::Active;
        self.role_id = role_id;
        self.updated_at = now;
    }
}

/// A member's role inside one workspace; grants apply within that workspace only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceMembership {
    pub id: WorkspaceMembershipId,
    pub tenant_id: TenantId,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub role_id: RoleId,
    pub created_at: DateTime<Utc>,
}

impl WorkspaceMembership {
    /// The member now holds `role_id` in this workspace; `false` when they already did.
    pub fn change_role(&mut self, role_id: RoleId) -> bool {
        let changed = self.role_id != role_id;
        self.role_id = role_id;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for status in [
            MembershipStatus::Invited,
            MembershipStatus::Active,
            MembershipStatus::Removed,
        ] {
            assert_eq!(MembershipStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(MembershipStatus::parse("banned"), None);
    }

    #[test]
    fn a_membership_changes_role_leaves_and_comes_back() {
        let start = Utc::now();
        let role = |n: u128| RoleId::from_uuid(uuid::Uuid::from_u128(n));
        let mut membership = Membership {
            id: MembershipId::from_uuid(uuid::Uuid::nil()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            role_id: role(1),
            status: MembershipStatus::Active,
            created_at: start,
            updated_at: start,
        };
        let later = start + chrono::Duration::seconds(5);
        membership.change_role(role(2), later);
        assert_eq!((membership.role_id, membership.updated_at), (role(2), later));
        membership.remove(later);
        assert!(!membership.is_active());
        membership.reactivate(role(3), later);
        assert!(membership.is_active());
        assert_eq!(membership.role_id, role(3));
        assert_eq!(membership.created_at, start, "creation time is kept");
    }
}
