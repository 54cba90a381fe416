//! The tenant counts are the database's own: the application role may read them (and
//! delete them with their tenant's purge) but no longer write them. The counting
//! trigger runs as the function's owner (`SECURITY DEFINER`, with the search path it
//! was made with), inside the same transaction and tenant as the row it counts, so a
//! quota check still reads what the rows say, and a request that could run SQL of its
//! own could not lift its tenant's quota by rewriting its count.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000025_tenant_counts_guard"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            // SQLite has no roles: the embedded server is its own only user.
            return Ok(());
        }
        run_script(
            manager,
            &format!(
                "ALTER FUNCTION count_tenant_rows() SECURITY DEFINER SET search_path FROM CURRENT;\n\
                 REVOKE INSERT, UPDATE ON tenant_counts FROM {APP_ROLE};\n"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run_script(
            manager,
            &format!(
                "GRANT INSERT, UPDATE ON tenant_counts TO {APP_ROLE};\n\
                 ALTER FUNCTION count_tenant_rows() SECURITY INVOKER RESET search_path;\n"
            ),
        )
        .await
    }
}
