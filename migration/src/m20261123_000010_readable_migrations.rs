//! Postgres: the application role may read which migrations are applied (readiness
//! reports pending ones), and nothing more of the migrator's table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000010_readable_migrations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &format!("GRANT SELECT ON seaql_migrations TO {APP_ROLE};")).await
            }
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &format!("REVOKE SELECT ON seaql_migrations FROM {APP_ROLE};")).await
            }
            _ => Ok(()),
        }
    }
}
