//! Schema migrations for Tessera, for PostgreSQL and SQLite. Each change is one
//! migration, written as explicit SQL per backend so the DDL reads like what it is.
//!
//! Rules every tenant table follows (a test checks them against the live catalogue):
//! `tenant_id NOT NULL`, primary key `(tenant_id, …)`, foreign keys between tenant tables
//! include `tenant_id`, and on Postgres row level security is enabled and forced with a
//! policy on the transaction-local `app.tenant_id` setting.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation_tables;
mod m20261123_000002_row_level_security;
mod m20261123_000003_invitations;
mod m20261123_000004_refresh_token_history;
mod m20261123_000005_own_roles_policy;
mod m20261123_000006_api_keys;
mod m20261123_000007_user_tokens;
mod m20261123_000008_custom_domains;
mod m20261123_000009_onboarding;
mod m20261123_000010_readable_migrations;
mod m20261123_000011_audit_trail;
mod m20261123_000012_keyset_indexes;
mod m20261123_000013_webhooks;
mod m20261123_000014_audit_head_grants;
mod m20261206_000015_plan_overrides;
mod m20261206_000016_status_reason;
mod m20261206_000017_billing_events;
mod m20261206_000018_usage_daily;
mod m20261206_000019_offboarding;
mod m20261206_000020_schema_read;
mod m20261206_000021_tenant_counts;
mod m20261207_000022_second_factor;
mod m20261207_000023_sso;
mod m20261207_000024_scim;
mod m20261207_000025_tenant_counts_guard;
mod m20261207_000026_own_memberships_estimate;

pub use m20261123_000011_audit_trail::PLATFORM_CHAIN;

/// The Postgres role the server runs as: owns nothing, not a superuser, no BYPASSRLS.
pub const APP_ROLE: &str = "tessera_app";

/// The tables that hold tenant data (each has a `tenant_id` column).
pub const TENANT_TABLES: &[&str] = &[
    "roles",
    "role_permissions",
    "memberships",
    "workspaces",
    "workspace_members",
    "invitations",
    "api_keys",
    "tenant_domains",
    "tenant_settings",
    "outbox_events",
    "audit_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "billing_events",
    "usage_daily",
    "usage_tenant_monthly",
    "tenant_exports",
    "tenant_counts",
    "sso_connections",
    "scim_tokens",
    "scim_users",
    "scim_groups",
    "scim_group_members",
];

/// The transaction-local tenant, read once per statement (the sub-select becomes an
/// InitPlan); `''` on a reused connection becomes NULL, which matches no row.
pub(crate) const CURRENT_TENANT: &str = "(select nullif(current_setting('app.tenant_id', true), ''))::uuid";
/// The transaction-local user, for the caller's own rows across tenants.
pub(crate) const CURRENT_USER: &str = "(select nullif(current_setting('app.user_id', true), ''))::uuid";

/// Postgres: grants for the application role, and RLS enabled, forced and keyed on
/// the transaction-local tenant setting for one tenant table.
pub(crate) fn protect_tenant_table(table: &str) -> String {
    format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};\n\
         ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY tenant_isolation ON {table} USING (tenant_id = {CURRENT_TENANT}) \
         WITH CHECK (tenant_id = {CURRENT_TENANT});\n"
    )
}

/// A PostgreSQL script that runs `body` (statements that may use the tenant's id `t`)
/// inside each tenant in turn: the schema owner is no superuser in production, so row
/// level security binds it like anyone, and a migration that reads or writes existing
/// tenants' rows must enter each tenant. The tenant list is not a tenant table.
pub(crate) fn in_each_tenant(body: &str) -> String {
    format!(
        "DO $$\nDECLARE t uuid;\nBEGIN\n\
         FOR t IN SELECT id FROM tenants LOOP\n\
         PERFORM set_config('app.tenant_id', t::text, true);\n\
         {body}\n\
         END LOOP;\n\
         PERFORM set_config('app.tenant_id', '', true);\n\
         END\n$$;\n"
    )
}

pub(crate) fn unprotect_tenant_table(table: &str) -> String {
    format!(
        "DROP POLICY tenant_isolation ON {table};\n\
         ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n\
         ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;\n\
         REVOKE ALL ON {table} FROM {APP_ROLE};\n"
    )
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation_tables::Migration),
            Box::new(m20261123_000002_row_level_security::Migration),
            Box::new(m20261123_000003_invitations::Migration),
            Box::new(m20261123_000004_refresh_token_history::Migration),
            Box::new(m20261123_000005_own_roles_policy::Migration),
            Box::new(m20261123_000006_api_keys::Migration),
            Box::new(m20261123_000007_user_tokens::Migration),
            Box::new(m20261123_000008_custom_domains::Migration),
            Box::new(m20261123_000009_onboarding::Migration),
            Box::new(m20261123_000010_readable_migrations::Migration),
            Box::new(m20261123_000011_audit_trail::Migration),
            Box::new(m20261123_000012_keyset_indexes::Migration),
            Box::new(m20261123_000013_webhooks::Migration),
            Box::new(m20261123_000014_audit_head_grants::Migration),
            Box::new(m20261206_000015_plan_overrides::Migration),
            Box::new(m20261206_000016_status_reason::Migration),
            Box::new(m20261206_000017_billing_events::Migration),
            Box::new(m20261206_000018_usage_daily::Migration),
            Box::new(m20261206_000019_offboarding::Migration),
            Box::new(m20261206_000020_schema_read::Migration),
            Box::new(m20261206_000021_tenant_counts::Migration),
            Box::new(m20261207_000022_second_factor::Migration),
            Box::new(m20261207_000023_sso::Migration),
            Box::new(m20261207_000024_scim::Migration),
            Box::new(m20261207_000025_tenant_counts_guard::Migration),
            Box::new(m20261207_000026_own_memberships_estimate::Migration),
        ]
    }
}

/// Runs each statement of a `;`-separated script (statements must not contain `;`
/// inside literals, except in `$$`-quoted bodies which are kept whole).
pub(crate) async fn run_script(manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in split_statements(script) {
        connection.execute_unprepared(&statement).await?;
    }
    Ok(())
}

fn split_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut in_dollar_quote = false;
    for line in script.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        if trimmed.matches("$$").count() % 2 == 1 {
            in_dollar_quote = !in_dollar_quote;
        }
        current.push_str(line);
        current.push('\n');
        if !in_dollar_quote && trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn scripts_split_on_semicolons_but_keep_dollar_quoted_bodies_whole() {
        let script = "CREATE TABLE a (x int);\n-- comment\nDO $$ BEGIN\n  PERFORM 1;\nEND $$;\nSELECT 2;";
        let statements = split_statements(script);
        assert_eq!(statements.len(), 3);
        assert!(statements[1].contains("PERFORM 1;"));
    }
}
