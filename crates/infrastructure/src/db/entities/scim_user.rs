use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{MembershipId, ScimUser, ScimUserId, ScimUserName, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub membership_id: Option<Uuid>,
    pub user_name: String,
    /// `user_name` in lower case: unique per tenant.
    pub user_name_key: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub attributes: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<ScimUser, StoreError> {
        Ok(ScimUser {
            id: ScimUserId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            user_id: self.user_id.map(UserId::from_uuid),
            membership_id: self.membership_id.map(MembershipId::from_uuid),
            user_name: ScimUserName::parse(&self.user_name).map_err(|e| corrupt("scim_users", "user_name", e))?,
            external_id: self.external_id,
            active: self.active,
            attributes: self.attributes,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(user: &ScimUser) -> Self {
        Self {
            tenant_id: user.tenant_id.as_uuid(),
            id: user.id.as_uuid(),
            user_id: user.user_id.map(|id| id.as_uuid()),
            membership_id: user.membership_id.map(|id| id.as_uuid()),
            user_name: user.user_name.as_str().to_owned(),
            user_name_key: user.user_name.as_str().to_lowercase(),
            external_id: user.external_id.clone(),
            active: user.active,
            attributes: user.attributes.clone(),
            version: user.version,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}
