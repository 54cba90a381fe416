use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, IntoActiveModel, PaginatorTrait, QueryFilter};
use tessera_application::ports::{ApiKeyRepository, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{ApiKey, ApiKeyId};

use crate::db::entities::api_key;
use crate::db::{SeaTransaction, db_failure, found, keyset, scoped};

#[async_trait]
impl ApiKeyRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()> {
        scoped::ensure_owned(scope, key.tenant_id)?;
        api_key::Model::from_domain(key)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn find_by_id(&self, scope: &TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        scoped::select::<api_key::Entity>(scope)
            .filter(api_key::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(api_key::Model::into_domain)
            .transpose()
    }

    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
        let query = scoped::select::<api_key::Entity>(scope);
        keyset::fetch(
            &self.txn,
            query,
            api_key::Column::CreatedAt,
            api_key::Column::Id,
            page,
            api_key::Model::into_domain,
        )
        .await
    }

    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        scoped::select::<api_key::Entity>(scope)
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn update(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()> {
        scoped::ensure_owned(scope, key.tenant_id)?;
        let result = scoped::update::<api_key::Entity>(scope)
            .col_expr(api_key::Column::RevokedAt, Expr::value(key.revoked_at))
            .col_expr(api_key::Column::LastUsedAt, Expr::value(key.last_used_at))
            .filter(api_key::Column::Id.eq(key.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }
}
