//! Postgres only: the runtime role and row level security on every tenant table.
//! Policies read the transaction-local `app.tenant_id` setting once per statement
//! (the sub-select becomes an InitPlan); unset or `''` means NULL means no rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, CURRENT_USER, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_row_level_security"
    }
}

/// Tables without a tenant: identities, tenants themselves, sessions.
const GLOBAL_TABLES: &[&str] = &["tenants", "users", "sessions"];

/// The tenant tables this migration created (later migrations protect their own).
const FOUNDATION_TENANT_TABLES: &[&str] = &[
    "roles",
    "role_permissions",
    "memberships",
    "workspaces",
    "workspace_members",
];

fn up_script() -> String {
    // Roles are cluster-wide: several databases (or concurrent test runs) may race to
    // create it, so both "already exists" errors are accepted. An existing role is not
    // created again, so an owner without CREATEROLE can migrate once an administrator
    // has made the role (and granted it to the owner).
    let mut sql = format!(
        "DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN\n\
         CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;\n  END IF;\n\
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\nEND $$;\n\
         GRANT USAGE ON SCHEMA public TO {APP_ROLE};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {APP_ROLE};\n",
        GLOBAL_TABLES.join(", ")
    );
    for table in FOUNDATION_TENANT_TABLES {
        sql.push_str(&protect_tenant_table(table));
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
    for table in FOUNDATION_TENANT_TABLES {
        sql.push_str(&unprotect_tenant_table(table));
    }
    sql.push_str(&format!(
        "REVOKE ALL ON {} FROM {APP_ROLE};\n",
        GLOBAL_TABLES.join(", ")
    ));
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
