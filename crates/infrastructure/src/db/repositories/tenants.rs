use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select};
use tessera_application::ports::{StoreResult, TenantRepository};
use tessera_application::{Page, PageRequest};
use tessera_domain::{Slug, Tenant, TenantId, UserId};

use super::memberships::own_active;
use crate::db::entities::{membership, tenant};
use crate::db::{SeaTransaction, db_failure, found, keyset, unique_as};

/// Every tenant, or those whose slug or (lower-cased) name contains `search` literally.
fn searched(search: Option<&str>) -> Select<tenant::Entity> {
    let query = tenant::Entity::find();
    let Some(search) = search else { return query };
    query.filter(
        Condition::any()
            .add(Expr::col(tenant::Column::Slug).like(keyset::contains_pattern(search)))
            .add(Expr::expr(Func::lower(Expr::col(tenant::Column::Name))).like(keyset::contains_pattern(search))),
    )
}

#[async_trait]
impl TenantRepository for SeaTransaction {
    async fn insert(&self, tenant: &Tenant) -> StoreResult<()> {
        self.insert_row(tenant::Model::from_domain(tenant), unique_as("slug"))
            .await
    }

    async fn find_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        tenant::Entity::find_by_id(id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant::Model::into_domain)
            .transpose()
    }

    async fn list_all(&self, search: Option<&str>, page: &PageRequest) -> StoreResult<Page<Tenant>> {
        let query = searched(search);
        keyset::fetch(
            &self.txn,
            query,
            tenant::Column::CreatedAt,
            tenant::Column::Id,
            page,
            tenant::Model::into_domain,
        )
        .await
    }

    async fn count_all(&self, search: Option<&str>) -> StoreResult<u64> {
        searched(search).count(&self.txn).await.map_err(db_failure)
    }

    async fn update_status(&self, tenant: &Tenant) -> StoreResult<()> {
        let result = tenant::Entity::update_many()
            .col_expr(tenant::Column::Status, Expr::value(tenant.status.as_str()))
            .col_expr(tenant::Column::UpdatedAt, Expr::value(tenant.updated_at))
            .filter(tenant::Column::Id.eq(tenant.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn update_profile(&self, tenant: &Tenant) -> StoreResult<()> {
        let result = tenant::Entity::update_many()
            .col_expr(tenant::Column::Name, Expr::value(tenant.name.as_str()))
            .col_expr(tenant::Column::Slug, Expr::value(tenant.slug.as_str()))
            .col_expr(tenant::Column::UpdatedAt, Expr::value(tenant.updated_at))
            .filter(tenant::Column::Id.eq(tenant.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(unique_as("slug"))?;
        found(result.rows_affected)
    }

    async fn find_joined_by(&self, user_id: UserId, ids: &[TenantId]) -> StoreResult<Vec<Tenant>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The rule of myTenants: the user's own active memberships of live tenants.
        let joined = own_active(user_id)
            .select_only()
            .column(membership::Column::TenantId)
            .filter(membership::Column::TenantId.is_in(ids.iter().map(|id| id.as_uuid())))
            .into_query();
        tenant::Entity::find()
            .filter(tenant::Column::Id.in_subquery(joined))
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
