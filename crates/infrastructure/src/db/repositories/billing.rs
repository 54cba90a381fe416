use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QuerySelect};
use tessera_application::TenantScope;
use tessera_application::ports::{BillingEventRecord, BillingEventRepository, StoreResult};

use crate::db::entities::billing_event;
use crate::db::{SeaTransaction, db_failure, scoped, unique_as};

#[async_trait]
impl BillingEventRepository for SeaTransaction {
    async fn seen(&self, scope: &TenantScope, id: &str) -> StoreResult<bool> {
        let found = scoped::select::<billing_event::Entity>(scope)
            .filter(billing_event::Column::Id.eq(id))
            .count(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(found > 0)
    }

    async fn record(&self, scope: &TenantScope, record: &BillingEventRecord) -> StoreResult<()> {
        scoped::ensure_owned(scope, record.tenant_id)?;
        self.insert_row(billing_event::Model::from_record(record), unique_as("id"))
            .await
    }

    async fn latest_applied(&self, scope: &TenantScope) -> StoreResult<Option<DateTime<Utc>>> {
        scoped::select::<billing_event::Entity>(scope)
            .filter(billing_event::Column::Applied.eq(true))
            .select_only()
            .column_as(
                Expr::expr(Func::max(Expr::col(billing_event::Column::OccurredAt))),
                "latest",
            )
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.txn)
            .await
            .map_err(db_failure)
            .map(Option::flatten)
    }
}
