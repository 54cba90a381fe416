//! Indexes for the keyset order of the lists that lacked one: a tenant's members and
//! roles, and a workspace's members, each by `(created_at, id)` after its tenant (and
//! workspace). A page then reads its rows in index order and stops at the page size,
//! instead of sorting every row of the tenant.

use sea_orm_migration::prelude::*;

use crate::run_script;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000012_keyset_indexes"
    }
}

const UP: &str = "\
CREATE INDEX ix_memberships_tenant_created ON memberships (tenant_id, created_at, id);
CREATE INDEX ix_roles_tenant_created ON roles (tenant_id, created_at, id);
CREATE INDEX ix_workspace_members_workspace_created ON workspace_members (tenant_id, workspace_id, created_at, id);
";

const DOWN: &str = "\
DROP INDEX ix_workspace_members_workspace_created;
DROP INDEX ix_roles_tenant_created;
DROP INDEX ix_memberships_tenant_created;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, DOWN).await
    }
}
