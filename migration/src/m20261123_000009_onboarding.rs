//! Onboarding progress (one row per person), tenant settings, and the transactional
//! outbox of domain events. People who exist when this runs count as onboarded, so an
//! upgrade does not lock them out of their tenants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000009_onboarding"
    }
}

fn tables(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE onboarding_progress (\n\
           user_id {id} PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
           stage text NOT NULL CHECK (stage IN ('started', 'personal_info', 'organization', 'terms', 'completed')),\n\
           version bigint NOT NULL,\n\
           personal_info text,\n\
           organization text,\n\
           terms text,\n\
           draft text,\n\
           started_at {time} NOT NULL,\n\
           updated_at {time} NOT NULL,\n\
           completed_at {time}\n\
         );\n\
         CREATE TABLE tenant_settings (\n\
           tenant_id {id} PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           logo_url text,\n\
           primary_colour text,\n\
           locale text,\n\
           time_zone text,\n\
           company_size text,\n\
           industry text,\n\
           updated_at {time} NOT NULL\n\
         );\n\
         CREATE TABLE outbox_events (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           event_type text NOT NULL,\n\
           payload text NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           delivered_at {time},\n\
           PRIMARY KEY (tenant_id, id)\n\
         );\n\
         CREATE INDEX ix_outbox_events_pending ON outbox_events (tenant_id, created_at, id) WHERE delivered_at IS NULL;\n\
         INSERT INTO onboarding_progress (user_id, stage, version, started_at, updated_at, completed_at) \
           SELECT id, 'completed', 1, created_at, created_at, created_at FROM users;\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &tables("uuid", "timestamptz")).await?;
                run_script(
                    manager,
                    &format!("GRANT SELECT, INSERT, UPDATE, DELETE ON onboarding_progress TO {APP_ROLE};"),
                )
                .await?;
                run_script(manager, &protect_tenant_table("tenant_settings")).await?;
                run_script(manager, &protect_tenant_table("outbox_events")).await
            }
            DbBackend::Sqlite => run_script(manager, &tables("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, &unprotect_tenant_table("outbox_events")).await?;
            run_script(manager, &unprotect_tenant_table("tenant_settings")).await?;
        }
        run_script(
            manager,
            "DROP TABLE outbox_events;\nDROP TABLE tenant_settings;\nDROP TABLE onboarding_progress;",
        )
        .await
    }
}
