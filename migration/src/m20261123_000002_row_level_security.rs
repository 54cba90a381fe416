//! Postgres only: the runtime role and row level security on every tenant table.
//! Policies read the transaction-local `app.tenant_id` setting once per statement
//! (the sub-select becomes an InitPlan); unset or `''` means NULL means no rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, TENANT_TABLES, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_row_level_security"
    }
}

const ALL_TABLES: &[&str] = &[
    "tenants",
    "users",
    "roles",
    "role_permissions",
    "memberships",
    "workspaces",
    "workspace_members",
    "sessions",
];

const CURRENT_TENANT: &str = "(SELECT nullif(current_setting('app.tenant_id', true), ''))::uuid";
const CURRENT_USER: &str = "(SELECT nullif(current_setting('app.user_id', true), ''))::uuid";

fn up_script() -> String {
    // Roles are cluster-wide: several databases (or concurrent test runs) may race to
    // create it, so both "already exists" errors are accepted.
    let mut sql = format!(
        "DO $$ BEGIN\n  CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;\n\
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\nEND $$;\n\
         GRANT USAGE ON SCHEMA public TO {APP_ROLE};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {APP_ROLE};\n",
        ALL_TABLES.join(", ")
    );
    for table in TENANT_TABLES {
        sql.push_str(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
             CREATE POLICY tenant_isolation ON {table} USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT});\n"
        ));
    }
    // Before a tenant is chosen, the authentication path may read the caller's own
    // memberships in every tenant, and nothing else.
    sql.push_str(&format!(
        "CREATE POLICY own_memberships ON memberships FOR SELECT USING (user_id = {CURRENT_USER});\n"
    ));
    sql
}

fn down_script() -> String {
    let mut sql = String::from("DROP POLICY own_memberships ON memberships;\n");
    for table in TENANT_TABLES {
        sql.push_str(&format!(
            "DROP POLICY tenant_isolation ON {table};\n\
             ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;\n"
        ));
    }
    sql.push_str(&format!("REVOKE ALL ON {} FROM {APP_ROLE};\n", ALL_TABLES.join(", ")));
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run_script(manager, &up_script()).await,
            // SQLite has no row level security: locks 1 and 2 hold there.
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run_script(manager, &down_script()).await,
            _ => Ok(()),
        }
    }
}
