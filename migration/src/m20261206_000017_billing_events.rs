//! The billing provider's events a tenant has received: one row per event id, so a
//! replayed event changes nothing, with the provider's time of the event so an older
//! event arriving late does not undo a newer one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000017_billing_events"
    }
}

fn table(id: &str, time: &str, boolean: &str) -> String {
    format!(
        "CREATE TABLE billing_events (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id text NOT NULL,\n\
           event_type text NOT NULL,\n\
           occurred_at {time} NOT NULL,\n\
           received_at {time} NOT NULL,\n\
           applied {boolean} NOT NULL,\n\
           PRIMARY KEY (tenant_id, id)\n\
         );\n\
         CREATE INDEX ix_billing_events_applied ON billing_events (tenant_id, applied, occurred_at);\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &table("uuid", "timestamptz", "boolean")).await?;
                run_script(manager, &protect_tenant_table("billing_events")).await
            }
            DbBackend::Sqlite => run_script(manager, &table("BLOB", "TEXT", "INTEGER")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, &unprotect_tenant_table("billing_events")).await?;
        }
        run_script(manager, "DROP TABLE billing_events;").await
    }
}
