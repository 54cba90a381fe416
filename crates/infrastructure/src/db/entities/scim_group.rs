use sea_orm::entity::prelude::*;
use tessera_domain::{RoleId, ScimGroup, ScimGroupId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub display_name: String,
    /// `display_name` in lower case: unique per tenant.
    pub display_name_key: String,
    pub external_id: Option<String>,
    pub role_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> ScimGroup {
        ScimGroup {
            id: ScimGroupId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            display_name: self.display_name,
            external_id: self.external_id,
            role_id: self.role_id.map(RoleId::from_uuid),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn from_domain(group: &ScimGroup) -> Self {
        Self {
            tenant_id: group.tenant_id.as_uuid(),
            id: group.id.as_uuid(),
            display_name: group.display_name.clone(),
            display_name_key: group.display_name.to_lowercase(),
            external_id: group.external_id.clone(),
            role_id: group.role_id.map(|r| r.as_uuid()),
            version: group.version,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}
