//! `schema:read` lets a member introspect the API where the deployment does not show
//! its schema to everyone (production): existing owner and admin roles are given it, as
//! new ones are.

use sea_orm_migration::prelude::*;

use crate::run_script;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000020_schema_read"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "INSERT INTO role_permissions (tenant_id, role_id, permission)\n\
               SELECT tenant_id, id, 'schema:read' FROM roles WHERE system_key IN ('owner', 'admin')\n\
               ON CONFLICT DO NOTHING;\n",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "DELETE FROM role_permissions WHERE permission = 'schema:read';\n",
        )
        .await
    }
}
