//! Postgres only: the same rows visible, a better plan for every page of members.
//!
//! A tenant's memberships are visible through two permissive policies, which Postgres
//! joins with OR: `tenant_isolation` (the tenant's rows) or `own_memberships` (the
//! signed-in person's rows in any tenant). The planner estimates that OR from each
//! side's equality, as if the setting could be any tenant and any user, and multiplies
//! it with the statement's own `tenant_id = …` filter: a tenant of 200 members is
//! expected to show 0.2 of them. A page of 50 then reads every membership of the tenant
//! through a bitmap of two indexes and sorts them all, instead of walking the tenant's
//! `(tenant_id, created_at, id)` index and stopping after 51 rows: twice the database's
//! time on a page at 200 members, and a tenant of 100,000 members would be read whole
//! for each page.
//!
//! `coalesce(…, false)` answers exactly as the bare comparison does in a policy (a
//! null is not a match either way), but the planner cannot look inside it and gives it
//! its default estimate of one half: the OR is then expected to keep half of the
//! tenant's rows, and the ordered index walk wins. A test of the plan
//! (`postgres_rls::a_members_page_walks_its_tenants_index_in_order`) fails without it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{CURRENT_USER, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000026_own_memberships_estimate"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(
                    manager,
                    &format!(
                        "ALTER POLICY own_memberships ON memberships USING (coalesce(user_id = {CURRENT_USER}, false));"
                    ),
                )
                .await
            }
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(
                    manager,
                    &format!("ALTER POLICY own_memberships ON memberships USING (user_id = {CURRENT_USER});"),
                )
                .await
            }
            _ => Ok(()),
        }
    }
}
