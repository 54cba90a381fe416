//! Plans become data: a tenant's plan is any key of the plan catalogue (the column
//! already holds one), and the limits or features granted or withheld for one tenant
//! are kept with it, as a JSON list.

use sea_orm_migration::prelude::*;

use crate::run_script;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000015_plan_overrides"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "ALTER TABLE tenants ADD COLUMN plan_overrides TEXT NOT NULL DEFAULT '[]';\n",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, "ALTER TABLE tenants DROP COLUMN plan_overrides;\n").await
    }
}
