//! Custom domains of tenants. A tenant may claim several host names; a name counts
//! only once verified, and only one tenant can hold a verified name. On Postgres a
//! verified name can be resolved before the tenant is known (the `resolve_verified_domains`
//! policy shows verified rows only: they are public in DNS anyway).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000008_custom_domains"
    }
}

fn table(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE tenant_domains (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           domain text NOT NULL,\n\
           verification_token text NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           verified_at {time},\n\
           PRIMARY KEY (tenant_id, domain)\n\
         );\n\
         CREATE UNIQUE INDEX ux_tenant_domains_verified ON tenant_domains (domain) WHERE verified_at IS NOT NULL;\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &table("uuid", "timestamptz")).await?;
                run_script(manager, &protect_tenant_table("tenant_domains")).await?;
                run_script(
                    manager,
                    "CREATE POLICY resolve_verified_domains ON tenant_domains FOR SELECT \
                     USING (verified_at IS NOT NULL);",
                )
                .await
            }
            DbBackend::Sqlite => run_script(manager, &table("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, "DROP POLICY resolve_verified_domains ON tenant_domains;").await?;
            run_script(manager, &unprotect_tenant_table("tenant_domains")).await?;
        }
        run_script(manager, "DROP TABLE tenant_domains;").await
    }
}
