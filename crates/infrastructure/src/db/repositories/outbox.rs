use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use tessera_application::TenantScope;
use tessera_application::ports::{OutboxEvent, OutboxRepository, StoreResult};
use tessera_domain::TenantId;
use uuid::Uuid;

use crate::db::entities::outbox_event;
use crate::db::{SeaTransaction, db_failure, found, scoped};

/// The advisory-lock class of outbox queues (the second key is the tenant's hash).
const OUTBOX_LOCK_CLASS: i32 = 7_001;

impl SeaTransaction {
    /// Tenant ids from a Postgres work-queue function (`outbox_due_tenants`, …), which
    /// runs as the schema owner and returns ids only.
    pub(crate) async fn due_tenants_from(
        &self,
        function: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<TenantId>> {
        let rows = self
            .txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("SELECT t.tenant_id FROM {function}($1, $2) AS t(tenant_id)"),
                [now.into(), i32::try_from(limit).unwrap_or(i32::MAX).into()],
            ))
            .await
            .map_err(db_failure)?;
        rows.iter()
            .map(|row| {
                row.try_get::<Uuid>("", "tenant_id")
                    .map(TenantId::from_uuid)
                    .map_err(db_failure)
            })
            .collect()
    }
}

#[async_trait]
impl OutboxRepository for SeaTransaction {
    async fn record(&self, scope: &TenantScope, event: &OutboxEvent) -> StoreResult<()> {
        scoped::ensure_owned(scope, event.tenant_id)?;
        self.insert_row(outbox_event::Model::from_domain(event), db_failure)
            .await
    }

    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<OutboxEvent>> {
        Ok(pending_in_order(scope)
            .limit(limit)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(outbox_event::Model::into_domain)
            .collect())
    }

    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        if self.backend == DbBackend::Postgres {
            return self.due_tenants_from("outbox_due_tenants", now, limit).await;
        }
        // SQLite has no row level security and one process: the plain query.
        let tenants: Vec<Uuid> = outbox_event::Entity::find()
            .select_only()
            .column(outbox_event::Column::TenantId)
            .distinct()
            .filter(outbox_event::Column::DeliveredAt.is_null())
            .filter(
                Condition::any()
                    .add(outbox_event::Column::NextAttemptAt.is_null())
                    .add(outbox_event::Column::NextAttemptAt.lte(now)),
            )
            .limit(limit)
            .into_tuple()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(tenants.into_iter().map(TenantId::from_uuid).collect())
    }

    async fn claim(&self, scope: &TenantScope, limit: u64) -> StoreResult<Option<Vec<OutboxEvent>>> {
        if self.backend == DbBackend::Postgres {
            let row = self
                .txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked",
                    [OUTBOX_LOCK_CLASS.into(), scope.tenant_id().to_string().into()],
                ))
                .await
                .map_err(db_failure)?;
            let locked = row
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()
                .map_err(db_failure)?
                .unwrap_or(false);
            if !locked {
                return Ok(None);
            }
        }
        let events = pending_in_order(scope)
            .limit(limit)
            // The advisory lock above is the skip (a busy tenant is passed over); the
            // rows themselves are locked and waited for, never skipped, so no event
            // is ever handed over ahead of an older one.
            .lock(LockType::Update)
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        // How long the oldest event handed over now has waited: the outbox's lag.
        let lag = events
            .iter()
            .map(|event| event.created_at)
            .min()
            .map_or(0.0, |oldest| (chrono::Utc::now() - oldest).as_seconds_f64().max(0.0));
        metrics::gauge!("tessera_outbox_lag_seconds").set(lag);
        Ok(Some(events.into_iter().map(outbox_event::Model::into_domain).collect()))
    }

    async fn mark_delivered(&self, scope: &TenantScope, ids: &[Uuid], at: DateTime<Utc>) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        scoped::update::<outbox_event::Entity>(scope)
            .col_expr(outbox_event::Column::DeliveredAt, Expr::value(at))
            .filter(outbox_event::Column::Id.is_in(ids.iter().copied()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn prune(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let result = scoped::delete::<outbox_event::Entity>(scope)
            .filter(outbox_event::Column::DeliveredAt.lt(before))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected)
    }

    async fn postpone(
        &self,
        scope: &TenantScope,
        id: Uuid,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = scoped::update::<outbox_event::Entity>(scope)
            .col_expr(
                outbox_event::Column::Attempts,
                Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
            )
            .col_expr(outbox_event::Column::NextAttemptAt, Expr::value(next_attempt_at))
            .filter(outbox_event::Column::Id.eq(id))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }
}

fn pending_in_order(scope: &TenantScope) -> sea_orm::Select<outbox_event::Entity> {
    scoped::select::<outbox_event::Entity>(scope)
        .filter(outbox_event::Column::DeliveredAt.is_null())
        .order_by_asc(outbox_event::Column::CreatedAt)
        .order_by_asc(outbox_event::Column::Id)
}
