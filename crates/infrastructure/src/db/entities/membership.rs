use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Membership, MembershipId, MembershipStatus, RoleId, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<Membership, StoreError> {
        Ok(Membership {
            id: MembershipId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            user_id: UserId::from_uuid(self.user_id),
            role_id: RoleId::from_uuid(self.role_id),
            status: MembershipStatus::parse(&self.status)
                .ok_or_else(|| corrupt("memberships", "status", &self.status))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(membership: &Membership) -> Self {
        Self {
            tenant_id: membership.tenant_id.as_uuid(),
            id: membership.id.as_uuid(),
            user_id: membership.user_id.as_uuid(),
            role_id: membership.role_id.as_uuid(),
            status: membership.status.as_str().to_owned(),
            created_at: membership.created_at,
            updated_at: membership.updated_at,
        }
    }
}
