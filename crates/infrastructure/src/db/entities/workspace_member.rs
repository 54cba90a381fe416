use sea_orm::entity::prelude::*;
use tessera_domain::{RoleId, TenantId, UserId, WorkspaceId, WorkspaceMembership, WorkspaceMembershipId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub created_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> WorkspaceMembership {
        WorkspaceMembership {
            id: WorkspaceMembershipId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            user_id: UserId::from_uuid(self.user_id),
            role_id: RoleId::from_uuid(self.role_id),
            created_at: self.created_at,
        }
    }
}
