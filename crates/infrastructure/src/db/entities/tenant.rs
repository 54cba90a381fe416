use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Name, Plan, Slug, Tenant, TenantId, TenantStatus};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!();

impl Model {
    pub fn into_domain(self) -> Result<Tenant, StoreError> {
        Ok(Tenant {
            id: TenantId::from_uuid(self.id),
            slug: Slug::parse(&self.slug).map_err(|e| corrupt("tenants", "slug", e))?,
            name: Name::parse(&self.name).map_err(|e| corrupt("tenants", "name", e))?,
            status: TenantStatus::parse(&self.status).ok_or_else(|| corrupt("tenants", "status", &self.status))?,
            plan: Plan::parse(&self.plan).ok_or_else(|| corrupt("tenants", "plan", &self.plan))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.as_uuid(),
            slug: tenant.slug.as_str().to_owned(),
            name: tenant.name.as_str().to_owned(),
            status: tenant.status.as_str().to_owned(),
            plan: tenant.plan.as_str().to_owned(),
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}
