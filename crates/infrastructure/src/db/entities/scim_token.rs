use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Name, ScimToken, ScimTokenId, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub secret_digest: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<ScimToken, StoreError> {
        Ok(ScimToken {
            id: ScimTokenId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            name: Name::parse(&self.name).map_err(|e| corrupt("scim_tokens", "name", e))?,
            secret_digest: self.secret_digest,
            created_by: UserId::from_uuid(self.created_by),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }

    pub fn from_domain(token: &ScimToken) -> Self {
        Self {
            tenant_id: token.tenant_id.as_uuid(),
            id: token.id.as_uuid(),
            name: token.name.as_str().to_owned(),
            secret_digest: token.secret_digest.clone(),
            created_by: token.created_by.as_uuid(),
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}
