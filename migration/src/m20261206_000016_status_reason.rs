//! A tenant may be past due (read-only) next to active, suspended and deleted, and why
//! it is past due or suspended (`billing`, `abuse`, `requested`) is kept with its status
//! and shown to its owners; empty while it is active.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::run_script;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000016_status_reason"
    }
}

const OLD_CHECK: &str = "CHECK (status IN ('active', 'suspended', 'deleted'))";
const NEW_CHECK: &str = "CHECK (status IN ('active', 'past_due', 'suspended', 'deleted'))";

/// SQLite cannot alter a constraint: its documented way to widen one is to rewrite the
/// table's stored definition and bump the schema version, which every row already meets.
pub(crate) async fn rewrite_sqlite_check(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    let version: i64 = connection
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Custom("no schema version".into()))?
        .try_get_by_index(0)?;
    let quoted = |text: &str| text.replace('\'', "''");
    run_script(
        manager,
        &format!(
            "PRAGMA writable_schema = ON;\n\
             UPDATE sqlite_schema SET sql = replace(sql, '{}', '{}') WHERE type = 'table' AND name = 'tenants';\n\
             PRAGMA schema_version = {};\n\
             PRAGMA writable_schema = OFF;\n",
            quoted(from),
            quoted(to),
            version + 1
        ),
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(
                manager,
                &format!(
                    "ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;\n\
                     ALTER TABLE tenants ADD CONSTRAINT tenants_status_check {NEW_CHECK};\n"
                ),
            )
            .await?;
        } else {
            rewrite_sqlite_check(manager, OLD_CHECK, NEW_CHECK).await?;
        }
        run_script(manager, "ALTER TABLE tenants ADD COLUMN status_reason TEXT;\n").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "UPDATE tenants SET status = 'suspended' WHERE status = 'past_due';\n\
             ALTER TABLE tenants DROP COLUMN status_reason;\n",
        )
        .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(
                manager,
                &format!(
                    "ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;\n\
                     ALTER TABLE tenants ADD CONSTRAINT tenants_status_check {OLD_CHECK};\n"
                ),
            )
            .await
        } else {
            rewrite_sqlite_check(manager, NEW_CHECK, OLD_CHECK).await
        }
    }
}
