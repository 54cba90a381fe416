//! The purge of a deleted tenant: every tenant table the catalogue lists, the tables
//! that refer to others first, a batch of rows per statement, each batch in its own
//! transaction under the tenant's row level security, so a purge that stops midway
//! loses nothing and the next pass carries on. The audit trail is append-only for the
//! application: its rows go through the schema owner's `purge_tenant_audit` on
//! Postgres (which refuses unless the tenant's grace period is over), and through the
//! retention marker its trigger accepts on SQLite.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, TransactionTrait as _};
use tessera_application::TenantScope;
use tessera_application::ports::{PurgeStep, StoreResult, TenantPurger};

use super::catalogue::{quoted, tenant_tables};
use crate::db::db_failure;

const AUDIT_TABLE: &str = "audit_events";

pub struct SeaTenantPurger {
    db: DatabaseConnection,
}

impl SeaTenantPurger {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn in_tenant(&self, scope: &TenantScope) -> StoreResult<DatabaseTransaction> {
        let txn = self.db.begin().await.map_err(db_failure)?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [scope.tenant_id().to_string().into()],
            ))
            .await
            .map_err(db_failure)?;
        }
        Ok(txn)
    }
}

/// Deletes at most `batch` of the tenant's rows of `table`; how many.
async fn delete_batch(txn: &DatabaseTransaction, table: &str, scope: &TenantScope, batch: u32) -> StoreResult<u64> {
    let backend = txn.get_database_backend();
    let tenant = scope.tenant_id().as_uuid();
    let name = quoted(table);
    let batch = i64::from(batch);
    if table == AUDIT_TABLE {
        return match backend {
            DbBackend::Postgres => {
                let row = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT purge_tenant_audit($1, $2)::bigint AS removed",
                        [tenant.into(), (batch as i32).into()],
                    ))
                    .await
                    .map_err(db_failure)?;
                let removed: i64 = row.map_or(Ok(0), |r| r.try_get("", "removed")).map_err(db_failure)?;
                Ok(u64::try_from(removed).unwrap_or(0))
            }
            _ => {
                txn.execute_unprepared("INSERT INTO audit_retention_runs (started_at) VALUES (datetime('now'))")
                    .await
                    .map_err(db_failure)?;
                let removed = txn
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        "DELETE FROM audit_events WHERE rowid IN \
                         (SELECT rowid FROM audit_events WHERE tenant_id = ? LIMIT ?)",
                        [tenant.into(), batch.into()],
                    ))
                    .await
                    .map_err(db_failure)?
                    .rows_affected();
                txn.execute_unprepared("DELETE FROM audit_retention_runs")
                    .await
                    .map_err(db_failure)?;
                if removed == 0 {
                    txn.execute_raw(Statement::from_sql_and_values(
                        backend,
                        "DELETE FROM audit_chain_heads WHERE chain = ?",
                        [tenant.into()],
                    ))
                    .await
                    .map_err(db_failure)?;
                }
                Ok(removed)
            }
        };
    }
    let sql = match backend {
        DbBackend::Postgres => format!(
            "DELETE FROM {name} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {name} WHERE tenant_id = $1 LIMIT $2))"
        ),
        _ => format!("DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM {name} WHERE tenant_id = ? LIMIT ?)"),
    };
    Ok(txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into(), batch.into()],
        ))
        .await
        .map_err(db_failure)?
        .rows_affected())
}

#[async_trait]
impl TenantPurger for SeaTenantPurger {
    async fn count_rows(&self, scope: &TenantScope) -> StoreResult<Vec<(String, u64)>> {
        let tables = tenant_tables(&self.db).await.map_err(db_failure)?;
        let txn = self.in_tenant(scope).await?;
        let backend = txn.get_database_backend();
        let placeholder = if backend == DbBackend::Postgres { "$1" } else { "?" };
        let mut counts = Vec::with_capacity(tables.len());
        for table in &tables {
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "SELECT count(*) AS n FROM {} WHERE tenant_id = {placeholder}",
                        quoted(&table.name)
                    ),
                    [scope.tenant_id().as_uuid().into()],
                ))
                .await
                .map_err(db_failure)?;
            let n: i64 = row.map_or(Ok(0), |r| r.try_get("", "n")).map_err(db_failure)?;
            counts.push((table.name.clone(), u64::try_from(n).unwrap_or(0)));
        }
        txn.commit().await.map_err(db_failure)?;
        Ok(counts)
    }

    async fn purge_batch(&self, scope: &TenantScope, batch: u32) -> StoreResult<PurgeStep> {
        let mut tables = tenant_tables(&self.db).await.map_err(db_failure)?;
        // Children first: a row is deleted before the rows it refers to.
        tables.reverse();
        let txn = self.in_tenant(scope).await?;
        let mut step = PurgeStep::Done;
        for table in tables {
            let rows = delete_batch(&txn, &table.name, scope, batch).await?;
            if rows > 0 {
                step = PurgeStep::Deleted {
                    table: table.name,
                    rows,
                };
                break;
            }
        }
        txn.commit().await.map_err(db_failure)?;
        Ok(step)
    }
}
