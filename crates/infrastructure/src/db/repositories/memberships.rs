use async_trait::async_trait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LockType, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select,
};
use tessera_application::ports::{MemberFilter, MembershipRepository, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{Membership, MembershipStatus, RoleId, User, UserId};

use crate::db::entities::{membership, tenant, user};
use crate::db::{SeaTransaction, db_failure, keyset, scoped, unchanged, unique_as};

/// The tenant's memberships narrowed by the filter. The search runs as a sub-select on
/// users (emails are stored lower-case; names are compared lower-cased).
fn filtered(scope: &TenantScope, filter: &MemberFilter) -> Select<membership::Entity> {
    let mut query = scoped::select::<membership::Entity>(scope);
    if let Some(role_id) = filter.role_id {
        query = query.filter(membership::Column::RoleId.eq(role_id.as_uuid()));
    }
    if let Some(status) = filter.status {
        query = query.filter(membership::Column::Status.eq(status.as_str()));
    }
    if let Some(search) = &filter.search {
        let matching_users = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .cond_where(
                Condition::any()
                    .add(Expr::col(user::Column::Email).like(keyset::contains_pattern(search)))
                    .add(
                        Expr::expr(Func::lower(Expr::col(user::Column::DisplayName)))
                            .like(keyset::contains_pattern(search)),
                    ),
            )
            .to_owned();
        query = query.filter(membership::Column::UserId.in_subquery(matching_users));
    }
    query
}

/// The user's own active memberships (across tenants on purpose: on Postgres the
/// `own_memberships` policy allows exactly these) of tenants that are not deleted.
pub(super) fn own_active(user_id: UserId) -> Select<membership::Entity> {
    let live_tenants = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::Status.ne(tessera_domain::TenantStatus::Deleted.as_str()))
        .into_query();
    membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id.as_uuid()))
        .filter(membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        .filter(membership::Column::TenantId.in_subquery(live_tenants))
}

#[async_trait]
impl MembershipRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, membership: &Membership) -> StoreResult<()> {
        scoped::ensure_owned(scope, membership.tenant_id)?;
        self.insert_row(membership::Model::from_domain(membership), unique_as("userId"))
            .await
    }

    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>> {
        scoped::select::<membership::Entity>(scope)
            .filter(membership::Column::UserId.eq(user_id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(membership::Model::into_domain)
            .transpose()
    }

    async fn update(&self, scope: &TenantScope, expected: &Membership, membership: &Membership) -> StoreResult<()> {
        scoped::ensure_owned(scope, membership.tenant_id)?;
        let result = scoped::update::<membership::Entity>(scope)
            .col_expr(membership::Column::RoleId, Expr::value(membership.role_id.as_uuid()))
            .col_expr(membership::Column::Status, Expr::value(membership.status.as_str()))
            .col_expr(membership::Column::UpdatedAt, Expr::value(membership.updated_at))
            .filter(membership::Column::Id.eq(membership.id.as_uuid()))
            // Only over what the change was based on: a removal and a role change
            // racing each other cannot both land.
            .filter(membership::Column::RoleId.eq(expected.role_id.as_uuid()))
            .filter(membership::Column::Status.eq(expected.status.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        unchanged(result.rows_affected)
    }

    async fn lock_active_holders(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<Vec<UserId>> {
        let holders: Vec<uuid::Uuid> = scoped::select::<membership::Entity>(scope)
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::RoleId.eq(role_id.as_uuid()))
            .filter(membership::Column::Status.eq(MembershipStatus::Active.as_str()))
            .lock(LockType::Update)
            .into_tuple()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(holders.into_iter().map(UserId::from_uuid).collect())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let query = filtered(scope, filter);
        keyset::fetch(
            &self.txn,
            query,
            membership::Column::CreatedAt,
            membership::Column::Id,
            page,
            membership::Model::into_domain,
        )
        .await
    }

    async fn list_with_users(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<(Membership, User)>> {
        // Users are global rows: the page (of this scope's memberships only) decides
        // which of them are read. They are joined to the page once it is cut to size
        // (joined before the limit, a tenant's every member would be looked up).
        let page_alias = Alias::new("page");
        let order = keyset::scan_order(page);
        let cut = keyset::paginate(
            filtered(scope, filter),
            membership::Column::CreatedAt,
            membership::Column::Id,
            page,
        )
        .into_query();
        let mut joined =
            super::users::joined_to_users::<membership::Entity>(cut, &page_alias, membership::Column::UserId);
        joined
            .order_by((page_alias.clone(), membership::Column::CreatedAt), order.clone())
            .order_by((page_alias, membership::Column::Id), order);
        let statement = self.txn.get_database_backend().build(&joined);
        let rows = self
            .txn
            .query_all_raw(statement)
            .await
            .map_err(db_failure)?
            .iter()
            .map(|row| {
                let (membership, user) = super::users::joined_row::<membership::Model>(row).map_err(db_failure)?;
                Ok((membership.into_domain()?, user.into_domain()?))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_scan(page, rows))
    }

    async fn count(&self, scope: &TenantScope, filter: &MemberFilter) -> StoreResult<u64> {
        filtered(scope, filter).count(&self.txn).await.map_err(db_failure)
    }

    async fn list_own_active(&self, user_id: UserId, page: &PageRequest) -> StoreResult<Page<Membership>> {
        keyset::fetch(
            &self.txn,
            own_active(user_id),
            membership::Column::CreatedAt,
            membership::Column::Id,
            page,
            membership::Model::into_domain,
        )
        .await
    }

    async fn count_own_active(&self, user_id: UserId) -> StoreResult<u64> {
        own_active(user_id).count(&self.txn).await.map_err(db_failure)
    }

    async fn find_by_users(&self, scope: &TenantScope, user_ids: &[UserId]) -> StoreResult<Vec<Membership>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        scoped::select::<membership::Entity>(scope)
            .filter(membership::Column::UserId.is_in(user_ids.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(membership::Model::into_domain)
            .collect()
    }

    async fn list_own(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        // Deliberately across tenants: the caller's own rows only (on Postgres the
        // `own_memberships` policy allows exactly these).
        membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id.as_uuid()))
            .order_by_asc(membership::Column::CreatedAt)
            .order_by_asc(membership::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(membership::Model::into_domain)
            .collect()
    }
}
