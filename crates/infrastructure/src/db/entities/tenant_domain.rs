use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{CustomDomain, DomainName, TenantId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    pub verification_token: String,
    pub created_at: DateTimeUtc,
    pub verified_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<CustomDomain, StoreError> {
        Ok(CustomDomain {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            domain: DomainName::parse(&self.domain).map_err(|e| corrupt("tenant_domains", "domain", e.0))?,
            verification_token: self.verification_token,
            created_at: self.created_at,
            verified_at: self.verified_at,
        })
    }

    pub fn from_domain(claim: &CustomDomain) -> Self {
        Self {
            tenant_id: claim.tenant_id.as_uuid(),
            domain: claim.domain.as_str().to_owned(),
            verification_token: claim.verification_token.clone(),
            created_at: claim.created_at,
            verified_at: claim.verified_at,
        }
    }
}
