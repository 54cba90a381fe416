use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use tessera_application::ports::{ApiKeyRepository, KeyCreators, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{ApiKey, ApiKeyId, MembershipStatus, PermissionSet};

use crate::db::entities::{api_key, membership};
use crate::db::{SeaTransaction, db_failure, keyset, scoped};

#[async_trait]
impl ApiKeyRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()> {
        scoped::ensure_owned(scope, key.tenant_id)?;
        self.insert_row(api_key::Model::from_domain(key), db_failure).await
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

    async fn revoke(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = scoped::update::<api_key::Entity>(scope)
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(at)))
            .filter(api_key::Column::Id.eq(id.as_uuid()))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn record_use(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        scoped::update::<api_key::Entity>(scope)
            .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(at)))
            .filter(api_key::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn restrict(
        &self,
        scope: &TenantScope,
        id: ApiKeyId,
        from: &PermissionSet,
        to: &PermissionSet,
    ) -> StoreResult<bool> {
        let result = scoped::update::<api_key::Entity>(scope)
            .col_expr(api_key::Column::Permissions, Expr::value(api_key::permission_text(to)))
            .filter(api_key::Column::Id.eq(id.as_uuid()))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(api_key::Column::Permissions.eq(api_key::permission_text(from)))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn live_created_by(&self, scope: &TenantScope, creators: &KeyCreators) -> StoreResult<Vec<ApiKey>> {
        let query = scoped::select::<api_key::Entity>(scope).filter(api_key::Column::RevokedAt.is_null());
        let query = match creators {
            KeyCreators::Person(user_id) => query.filter(api_key::Column::CreatedBy.eq(user_id.as_uuid())),
            KeyCreators::HoldersOf(role_id) => {
                let holders = scoped::select::<membership::Entity>(scope)
                    .select_only()
                    .column(membership::Column::UserId)
                    .filter(membership::Column::RoleId.eq(role_id.as_uuid()))
                    .filter(membership::Column::Status.ne(MembershipStatus::Removed.as_str()))
                    .into_query();
                query.filter(api_key::Column::CreatedBy.in_subquery(holders))
            }
        };
        query
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(api_key::Model::into_domain)
            .collect()
    }
}
