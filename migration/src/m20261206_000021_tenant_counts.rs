//! What a tenant holds of each quota that is a plain count of rows (workspaces, custom
//! roles, webhook endpoints, custom domains), kept by the database itself: a trigger on
//! each table adds one for a row inserted and takes one away for a row deleted, however
//! the row came or went (a use case, a purge, a cascade). A quota check then reads one
//! row, whatever the tenant holds, instead of counting rows that grow with the tenant.
//! Seats and API keys are not kept here: what they count changes with time (pending
//! invitations and keys expire), so they are counted when checked.
//!
//! On Postgres the counts are a tenant table under row level security like the others;
//! the trigger runs as the statement's role, inside the tenant the row belongs to
//! (whose setting the counted tables' own policies already require).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{in_each_tenant, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000021_tenant_counts"
    }
}

/// The counted tables: the resource's name, its table, and which rows count.
pub const COUNTED: &[(&str, &str, Option<&str>)] = &[
    ("workspaces", "workspaces", None),
    ("custom_roles", "roles", Some("system_key IS NULL")),
    ("webhook_endpoints", "webhook_endpoints", None),
    ("custom_domains", "tenant_domains", None),
];

/// One `INSERT` per counted table, for the rows `filter` selects.
fn count_rows(filter: &str) -> String {
    COUNTED
        .iter()
        .map(|(resource, table, rows)| {
            format!(
                "INSERT INTO tenant_counts (tenant_id, resource, held) \
                 SELECT tenant_id, '{resource}', COUNT(*) FROM {table} WHERE {filter}{} GROUP BY tenant_id;\n",
                rows.map(|rows| format!(" AND {rows}")).unwrap_or_default()
            )
        })
        .collect()
}

/// Counts what every tenant holds already (on Postgres inside each tenant in turn).
fn backfill(postgres: bool) -> String {
    if !postgres {
        return count_rows("true");
    }
    in_each_tenant(&count_rows("tenant_id = t"))
}

fn postgres() -> String {
    let mut script = String::from(
        "CREATE TABLE tenant_counts (\n\
           tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           resource text NOT NULL,\n\
           held bigint NOT NULL DEFAULT 0,\n\
           PRIMARY KEY (tenant_id, resource)\n\
         );\n",
    );
    script.push_str(&protect_tenant_table("tenant_counts"));
    script.push_str(
        "CREATE FUNCTION count_tenant_rows() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         BEGIN\n\
           IF TG_OP = 'INSERT' THEN\n\
             INSERT INTO tenant_counts (tenant_id, resource, held) VALUES (NEW.tenant_id, TG_ARGV[0], 1)\n\
               ON CONFLICT (tenant_id, resource) DO UPDATE SET held = tenant_counts.held + 1;\n\
             RETURN NEW;\n\
           END IF;\n\
           UPDATE tenant_counts SET held = held - 1 WHERE tenant_id = OLD.tenant_id AND resource = TG_ARGV[0];\n\
           RETURN OLD;\n\
         END\n\
         $$;\n",
    );
    for (resource, table, rows) in COUNTED {
        for (event, row) in [("INSERT", "NEW"), ("DELETE", "OLD")] {
            let when = rows.map(|rows| format!(" WHEN ({row}.{rows})")).unwrap_or_default();
            script.push_str(&format!(
                "CREATE TRIGGER count_{resource}_{event} AFTER {event} ON {table} FOR EACH ROW{when} \
                 EXECUTE FUNCTION count_tenant_rows('{resource}');\n",
                event = event.to_lowercase()
            ));
        }
    }
    script
}

fn sqlite() -> String {
    let mut script = String::from(
        "CREATE TABLE tenant_counts (\n\
           tenant_id BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           resource TEXT NOT NULL,\n\
           held INTEGER NOT NULL DEFAULT 0,\n\
           PRIMARY KEY (tenant_id, resource)\n\
         );\n",
    );
    for (resource, table, rows) in COUNTED {
        let when = |row: &str| rows.map(|rows| format!(" WHEN {row}.{rows}")).unwrap_or_default();
        script.push_str(&format!(
            "CREATE TRIGGER count_{resource}_insert AFTER INSERT ON {table} FOR EACH ROW{} BEGIN \
               INSERT INTO tenant_counts (tenant_id, resource, held) VALUES (NEW.tenant_id, '{resource}', 1) \
               ON CONFLICT (tenant_id, resource) DO UPDATE SET held = held + 1; \
             END;\n\
             CREATE TRIGGER count_{resource}_delete AFTER DELETE ON {table} FOR EACH ROW{} BEGIN \
               UPDATE tenant_counts SET held = held - 1 WHERE tenant_id = OLD.tenant_id AND resource = '{resource}'; \
             END;\n",
            when("NEW"),
            when("OLD"),
        ));
    }
    script
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres_backend = manager.get_database_backend() == DbBackend::Postgres;
        let schema = if postgres_backend { postgres() } else { sqlite() };
        run_script(manager, &schema).await?;
        run_script(manager, &backfill(postgres_backend)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let mut script = String::new();
        for (resource, table, _) in COUNTED {
            for event in ["insert", "delete"] {
                script.push_str(&format!(
                    "DROP TRIGGER count_{resource}_{event}{};\n",
                    if postgres {
                        format!(" ON {table}")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if postgres {
            script.push_str("DROP FUNCTION count_tenant_rows();\n");
            script.push_str(&unprotect_tenant_table("tenant_counts"));
        }
        script.push_str("DROP TABLE tenant_counts;\n");
        run_script(manager, &script).await
    }
}
