use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, QueryStatementBuilder, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select,
};
use tessera_application::ports::{StoreError, StoreResult, TenantRepository};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{Limit, Slug, Tenant, TenantId, TenantStatus, UserId};
use uuid::Uuid;

use super::memberships::own_active;
use crate::db::entities::{api_key, invitation, membership, tenant};
use crate::db::{SeaTransaction, db_failure, found, keyset, unique_as};

/// `(SELECT COUNT(*) FROM … WHERE tenant_id = … AND …)` for one table.
fn count_in<E: EntityTrait>(tenant_column: E::Column, tenant_id: Uuid, also: Condition) -> Expr {
    let query = E::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(tenant_column.eq(tenant_id))
        .filter(also)
        .into_query();
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
}

/// What the database keeps of a plain count of rows (`tenant_counts`, maintained by
/// triggers on the counted tables): one row read, however many the tenant holds.
fn kept(resource: &str, tenant_id: Uuid) -> Expr {
    let count = Query::select()
        .column(Alias::new("held"))
        .from(Alias::new("tenant_counts"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant_id))
        .and_where(Expr::col(Alias::new("resource")).eq(resource))
        .to_owned();
    Func::coalesce([
        Expr::SubQuery(None, Box::new(count.into_sub_query_statement())),
        Expr::value(0i64),
    ])
    .into()
}

/// How many of `quota`'s things the tenant holds at `now`, as an expression.
pub(crate) fn held(quota: Limit, tenant_id: Uuid, now: DateTime<Utc>) -> Expr {
    match quota {
        // Active members, and invitations still waiting for an answer.
        Limit::Seats => count_in::<membership::Entity>(
            membership::Column::TenantId,
            tenant_id,
            Condition::all().add(membership::Column::Status.eq("active")),
        )
        .add(count_in::<invitation::Entity>(
            invitation::Column::TenantId,
            tenant_id,
            Condition::all()
                .add(invitation::Column::Status.eq("pending"))
                .add(invitation::Column::ExpiresAt.gt(now)),
        )),
        Limit::Workspaces => kept("workspaces", tenant_id),
        Limit::CustomRoles => kept("custom_roles", tenant_id),
        // Keys that still work.
        Limit::ApiKeys => count_in::<api_key::Entity>(
            api_key::Column::TenantId,
            tenant_id,
            Condition::all().add(api_key::Column::RevokedAt.is_null()).add(
                Condition::any()
                    .add(api_key::Column::ExpiresAt.is_null())
                    .add(api_key::Column::ExpiresAt.gt(now)),
            ),
        ),
        Limit::WebhookEndpoints => kept("webhook_endpoints", tenant_id),
        Limit::CustomDomains => kept("custom_domains", tenant_id),
        // Not a count of rows: nothing is held.
        _ => Expr::value(0i64),
    }
}

impl SeaTransaction {
    /// Runs `select` (the tenant's columns plus named counts) and reads the tenant and
    /// each count.
    async fn tenant_with_counts(
        &self,
        select: &SelectStatement,
        counts: &[Limit],
    ) -> StoreResult<(Tenant, BTreeMap<Limit, u64>)> {
        let row = self
            .txn
            .query_one_raw(self.backend.build(select))
            .await
            .map_err(db_failure)?
            .ok_or(StoreError::NotFound)?;
        let tenant = tenant::Model::from_query_result(&row, "")
            .map_err(db_failure)?
            .into_domain()?;
        let mut held = BTreeMap::new();
        for quota in counts {
            let count: i64 = row.try_get("", quota.as_str()).map_err(db_failure)?;
            held.insert(*quota, u64::try_from(count).unwrap_or(0));
        }
        Ok((tenant, held))
    }

    /// Saves `columns` and `updated_at` of `tenant`; `NotFound` when there is no such tenant.
    async fn update_tenant<const N: usize>(
        &self,
        tenant: &Tenant,
        columns: [(tenant::Column, Expr); N],
    ) -> StoreResult<()> {
        let mut update = tenant::Entity::update_many()
            .col_expr(tenant::Column::UpdatedAt, Expr::value(tenant.updated_at))
            .filter(tenant::Column::Id.eq(tenant.id.as_uuid()));
        for (column, value) in columns {
            update = update.col_expr(column, value);
        }
        let result = update.exec(&self.txn).await.map_err(db_failure)?;
        found(result.rows_affected)
    }

    /// The scope's tenant row with a count column per quota in `counts`.
    fn tenant_counting(scope: &TenantScope, counts: &[Limit], now: DateTime<Utc>) -> SelectStatement {
        let tenant_id = scope.tenant_id().as_uuid();
        let mut select = Query::select();
        select
            .columns([
                tenant::Column::Id,
                tenant::Column::Slug,
                tenant::Column::Name,
                tenant::Column::Status,
                tenant::Column::StatusReason,
                tenant::Column::Plan,
                tenant::Column::PlanOverrides,
                tenant::Column::DeletionRequestedAt,
                tenant::Column::DeletionDueAt,
                tenant::Column::StatusBeforeDeletion,
                tenant::Column::MfaRequired,
                tenant::Column::CreatedAt,
                tenant::Column::UpdatedAt,
            ])
            .from(tenant::Entity)
            .and_where(tenant::Column::Id.eq(tenant_id));
        for quota in counts {
            select.expr_as(held(*quota, tenant_id, now), Alias::new(quota.as_str()));
        }
        select
    }
}

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

    async fn due_for_purge(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Tenant>> {
        tenant::Entity::find()
            // Only a tenant whose deletion was scheduled (a grace period recorded) is purged.
            .filter(tenant::Column::DeletionDueAt.is_not_null())
            .filter(
                Condition::any()
                    .add(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
                    .add(
                        Condition::all()
                            .add(tenant::Column::Status.eq(TenantStatus::PendingDeletion.as_str()))
                            .add(tenant::Column::DeletionDueAt.lte(now)),
                    ),
            )
            .order_by_asc(tenant::Column::DeletionDueAt)
            .limit(u64::from(limit))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(tenant::Model::into_domain)
            .collect()
    }

    async fn delete(&self, id: TenantId) -> StoreResult<()> {
        let result = tenant::Entity::delete_by_id(id.as_uuid())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
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

    async fn update_status(&self, tenant: &Tenant, expected: TenantStatus) -> StoreResult<()> {
        let deletion = tenant.deletion;
        let result = tenant::Entity::update_many()
            .col_expr(tenant::Column::UpdatedAt, Expr::value(tenant.updated_at))
            .col_expr(tenant::Column::Status, Expr::value(tenant.status.as_str()))
            .col_expr(
                tenant::Column::StatusReason,
                Expr::value(tenant.status_reason.map(|r| r.as_str().to_owned())),
            )
            .col_expr(
                tenant::Column::DeletionRequestedAt,
                Expr::value(deletion.map(|d| d.requested_at)),
            )
            .col_expr(tenant::Column::DeletionDueAt, Expr::value(deletion.map(|d| d.due_at)))
            .col_expr(
                tenant::Column::StatusBeforeDeletion,
                Expr::value(deletion.map(|d| d.restore_to.as_str().to_owned())),
            )
            .filter(tenant::Column::Id.eq(tenant.id.as_uuid()))
            .filter(tenant::Column::Status.eq(expected.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if result.rows_affected == 1 {
            return Ok(());
        }
        match tenant::Entity::find_by_id(tenant.id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
        {
            Some(_) => Err(StoreError::Stale),
            None => Err(StoreError::NotFound),
        }
    }

    async fn update_security(&self, tenant: &Tenant) -> StoreResult<()> {
        self.update_tenant(
            tenant,
            [(tenant::Column::MfaRequired, Expr::value(tenant.mfa_required))],
        )
        .await
    }

    async fn update_plan(&self, tenant: &Tenant) -> StoreResult<()> {
        self.update_tenant(
            tenant,
            [
                (tenant::Column::Plan, Expr::value(tenant.plan.as_str())),
                (
                    tenant::Column::PlanOverrides,
                    Expr::value(tenant::Model::overrides_of(tenant)),
                ),
            ],
        )
        .await
    }

    async fn quota_use(&self, scope: &TenantScope, quota: Limit, now: DateTime<Utc>) -> StoreResult<(Tenant, u64)> {
        let select = Self::tenant_counting(scope, &[quota], now);
        let (tenant, held) = self.tenant_with_counts(&select, &[quota]).await?;
        Ok((tenant, held.get(&quota).copied().unwrap_or(0)))
    }

    async fn usage(&self, scope: &TenantScope, now: DateTime<Utc>) -> StoreResult<(Tenant, BTreeMap<Limit, u64>)> {
        let select = Self::tenant_counting(scope, Limit::QUOTAS, now);
        self.tenant_with_counts(&select, Limit::QUOTAS).await
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
