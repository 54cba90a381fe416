//! `schema:read` lets a member introspect the API where the deployment does not show
//! its schema to everyone (production): existing owner and admin roles are given it, as
//! new ones are (and `analytics:read`, which 000018 could not give where the schema
//! owner is bound by row level security).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{in_each_tenant, run_script};

/// Gives the owner and admin roles of the tenants `filter` selects `schema:read`, and
/// `analytics:read`, which migration 000018 meant to give them but could not see them
/// to give it where the schema owner is bound by row level security.
fn grant(filter: &str) -> String {
    format!(
        "INSERT INTO role_permissions (tenant_id, role_id, permission) \
         SELECT tenant_id, id, permission FROM roles, \
         (SELECT 'schema:read' AS permission UNION ALL SELECT 'analytics:read') AS granted \
         WHERE {filter} AND system_key IN ('owner', 'admin') ON CONFLICT DO NOTHING"
    )
}

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000020_schema_read"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return run_script(manager, &format!("{};\n", grant("true"))).await;
        }
        // The schema owner is bound by row level security (no superuser in production).
        run_script(manager, &in_each_tenant(&format!("{};", grant("tenant_id = t")))).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        const DELETE: &str = "DELETE FROM role_permissions WHERE permission = 'schema:read'";
        if manager.get_database_backend() != DbBackend::Postgres {
            return run_script(manager, &format!("{DELETE};\n")).await;
        }
        run_script(manager, &in_each_tenant(&format!("{DELETE} AND tenant_id = t;"))).await
    }
}
