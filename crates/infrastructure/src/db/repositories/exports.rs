use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use tessera_application::TenantScope;
use tessera_application::ports::{StoreError, StoreResult, TenantExportRepository};
use tessera_domain::{ExportStatus, TenantExport, TenantExportId, TenantId};
use uuid::Uuid;

use crate::db::entities::tenant_export;
use crate::db::{SeaTransaction, db_failure, scoped, unique_as};

/// Exports a writer may take at `now`: queued, or running with their writer's lease over.
fn writable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(tenant_export::Column::Status.eq(ExportStatus::Queued.as_str()))
        .add(
            Condition::all()
                .add(tenant_export::Column::Status.eq(ExportStatus::Running.as_str()))
                .add(tenant_export::Column::LeaseUntil.lt(now)),
        )
}

#[async_trait]
impl TenantExportRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, export: &TenantExport) -> StoreResult<()> {
        scoped::ensure_owned(scope, export.tenant_id)?;
        self.insert_row(tenant_export::Model::from_domain(export, None), unique_as("id"))
            .await
    }

    async fn find(&self, scope: &TenantScope, id: TenantExportId) -> StoreResult<Option<TenantExport>> {
        scoped::select::<tenant_export::Entity>(scope)
            .filter(tenant_export::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant_export::Model::into_domain)
            .transpose()
    }

    async fn latest(&self, scope: &TenantScope, limit: u32) -> StoreResult<Vec<TenantExport>> {
        scoped::select::<tenant_export::Entity>(scope)
            .order_by_desc(tenant_export::Column::CreatedAt)
            .order_by_desc(tenant_export::Column::Id)
            .limit(u64::from(limit))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(tenant_export::Model::into_domain)
            .collect()
    }

    async fn claim(
        &self,
        scope: &TenantScope,
        id: TenantExportId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<TenantExport>> {
        let result = scoped::update::<tenant_export::Entity>(scope)
            .col_expr(
                tenant_export::Column::Status,
                Expr::value(ExportStatus::Running.as_str()),
            )
            .col_expr(tenant_export::Column::LeaseUntil, Expr::value(lease_until))
            .col_expr(tenant_export::Column::StartedAt, Expr::value(now))
            .filter(tenant_export::Column::Id.eq(id.as_uuid()))
            .filter(writable(now))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.find(scope, id).await
    }

    async fn save(
        &self,
        scope: &TenantScope,
        export: &TenantExport,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        scoped::ensure_owned(scope, export.tenant_id)?;
        let row = tenant_export::Model::from_domain(export, lease_until);
        let result = scoped::update::<tenant_export::Entity>(scope)
            .col_expr(tenant_export::Column::Status, Expr::value(row.status))
            .col_expr(tenant_export::Column::TablesDone, Expr::value(row.tables_done))
            .col_expr(tenant_export::Column::TablesTotal, Expr::value(row.tables_total))
            .col_expr(tenant_export::Column::RowsWritten, Expr::value(row.rows_written))
            .col_expr(tenant_export::Column::Bytes, Expr::value(row.bytes))
            .col_expr(tenant_export::Column::Sha256, Expr::value(row.sha256))
            .col_expr(tenant_export::Column::Error, Expr::value(row.error))
            .col_expr(tenant_export::Column::StartedAt, Expr::value(row.started_at))
            .col_expr(tenant_export::Column::FinishedAt, Expr::value(row.finished_at))
            .col_expr(tenant_export::Column::ExpiresAt, Expr::value(row.expires_at))
            .col_expr(tenant_export::Column::LeaseUntil, Expr::value(row.lease_until))
            .filter(tenant_export::Column::Id.eq(row.id))
            // The attempt's start fences its writer: once another writer has taken the
            // export over (a new start), the first one's saves change nothing.
            .filter(match row.started_at {
                Some(started) => tenant_export::Column::StartedAt.eq(started),
                None => tenant_export::Column::StartedAt.is_null(),
            })
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if result.rows_affected == 1 {
            return Ok(());
        }
        let exists = scoped::select::<tenant_export::Entity>(scope)
            .filter(tenant_export::Column::Id.eq(row.id))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .is_some();
        Err(if exists {
            StoreError::Stale
        } else {
            StoreError::NotFound
        })
    }

    async fn due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<(TenantId, TenantExportId)>> {
        if self.backend == DbBackend::Postgres {
            // Across tenants, through the schema owner's function (ids only).
            let rows = self
                .txn
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT e.tenant_id, e.id FROM tenant_exports_due($1, $2) AS e(tenant_id, id)",
                    [now.into(), i32::try_from(limit).unwrap_or(i32::MAX).into()],
                ))
                .await
                .map_err(db_failure)?;
            return rows
                .iter()
                .map(|row| {
                    Ok((
                        TenantId::from_uuid(row.try_get::<Uuid>("", "tenant_id").map_err(db_failure)?),
                        TenantExportId::from_uuid(row.try_get::<Uuid>("", "id").map_err(db_failure)?),
                    ))
                })
                .collect();
        }
        let rows: Vec<(Uuid, Uuid)> = tenant_export::Entity::find()
            .select_only()
            .column(tenant_export::Column::TenantId)
            .column(tenant_export::Column::Id)
            .filter(
                writable(now).add(
                    Condition::all()
                        .add(tenant_export::Column::Status.eq(ExportStatus::Completed.as_str()))
                        .add(tenant_export::Column::ExpiresAt.lte(now)),
                ),
            )
            .order_by_asc(tenant_export::Column::CreatedAt)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(rows
            .into_iter()
            .map(|(tenant, id)| (TenantId::from_uuid(tenant), TenantExportId::from_uuid(id)))
            .collect())
    }
}
