use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use tessera_application::ports::{StoreResult, TenantRepository};
use tessera_domain::{Slug, Tenant, TenantId};

use crate::db::entities::tenant;
use crate::db::{SeaTransaction, db_failure, unique_as};

#[async_trait]
impl TenantRepository for SeaTransaction {
    async fn insert(&self, tenant: &Tenant) -> StoreResult<()> {
        tenant::Model::from_domain(tenant)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(unique_as("slug"))?;
        Ok(())
    }

    async fn find_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        tenant::Entity::find_by_id(id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant::Model::into_domain)
            .transpose()
    }

    async fn find_by_ids(&self, ids: &[TenantId]) -> StoreResult<Vec<Tenant>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(tenant::Model::into_domain)
            .collect()
    }

    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Tenant>> {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug.as_str()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant::Model::into_domain)
            .transpose()
    }
}
