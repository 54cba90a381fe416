//! Postgres only: before a tenant is chosen, a user may read the roles of their own
//! memberships in every tenant (for the tenant switcher), and no other role.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{CURRENT_USER, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000005_own_roles_policy"
    }
}

fn up() -> String {
    format!(
        "CREATE POLICY own_roles ON roles FOR SELECT USING (EXISTS (SELECT 1 FROM memberships m \
         WHERE m.tenant_id = roles.tenant_id AND m.role_id = roles.id AND m.user_id = {CURRENT_USER}));"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run_script(manager, &up()).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run_script(manager, "DROP POLICY own_roles ON roles;").await,
            _ => Ok(()),
        }
    }
}
