//! Provisioning by a tenant's directory (SCIM 2.0): its bearer tokens (digests only),
//! the people it provisioned (each linked to a user and that user's membership of the
//! tenant), its groups (each optionally mapped to a role) and the groups' members.
//! All tenant tables, under row level security.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000024_scim"
    }
}

const TABLES: [&str; 4] = ["scim_tokens", "scim_users", "scim_groups", "scim_group_members"];

fn tables(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE scim_tokens (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           name text NOT NULL,\n\
           secret_digest text NOT NULL,\n\
           created_by {id} NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           last_used_at {time},\n\
           revoked_at {time},\n\
           PRIMARY KEY (tenant_id, id)\n\
         );\n\
         CREATE TABLE scim_users (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           user_id {id} REFERENCES users (id) ON DELETE CASCADE,\n\
           membership_id {id},\n\
           user_name text NOT NULL,\n\
           user_name_key text NOT NULL,\n\
           external_id text,\n\
           active boolean NOT NULL,\n\
           attributes text NOT NULL,\n\
           version bigint NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           updated_at {time} NOT NULL,\n\
           PRIMARY KEY (tenant_id, id),\n\
           CONSTRAINT ux_scim_users_name UNIQUE (tenant_id, user_name_key),\n\
           CONSTRAINT ux_scim_users_user UNIQUE (tenant_id, user_id),\n\
           FOREIGN KEY (tenant_id, membership_id) REFERENCES memberships (tenant_id, id) ON DELETE CASCADE\n\
         );\n\
         CREATE INDEX ix_scim_users_external ON scim_users (tenant_id, external_id);\n\
         CREATE INDEX ix_scim_users_created ON scim_users (tenant_id, created_at, id);\n\
         CREATE TABLE scim_groups (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           display_name text NOT NULL,\n\
           display_name_key text NOT NULL,\n\
           external_id text,\n\
           role_id {id},\n\
           version bigint NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           updated_at {time} NOT NULL,\n\
           PRIMARY KEY (tenant_id, id),\n\
           CONSTRAINT ux_scim_groups_name UNIQUE (tenant_id, display_name_key),\n\
           FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)\n\
         );\n\
         CREATE INDEX ix_scim_groups_created ON scim_groups (tenant_id, created_at, id);\n\
         CREATE INDEX ix_scim_groups_external ON scim_groups (tenant_id, external_id);\n\
         CREATE TABLE scim_group_members (\n\
           tenant_id {id} NOT NULL,\n\
           group_id {id} NOT NULL,\n\
           scim_user_id {id} NOT NULL,\n\
           PRIMARY KEY (tenant_id, group_id, scim_user_id),\n\
           FOREIGN KEY (tenant_id, group_id) REFERENCES scim_groups (tenant_id, id) ON DELETE CASCADE,\n\
           FOREIGN KEY (tenant_id, scim_user_id) REFERENCES scim_users (tenant_id, id) ON DELETE CASCADE\n\
         );\n\
         CREATE INDEX ix_scim_group_members_user ON scim_group_members (tenant_id, scim_user_id);\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let mut sql = tables("uuid", "timestamptz");
                for table in TABLES {
                    sql.push_str(&protect_tenant_table(table));
                }
                run_script(manager, &sql).await
            }
            DbBackend::Sqlite => run_script(manager, &tables("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut sql = String::new();
        for table in TABLES.iter().rev() {
            if manager.get_database_backend() == DbBackend::Postgres {
                sql.push_str(&unprotect_tenant_table(table));
            }
            sql.push_str(&format!("DROP TABLE {table};\n"));
        }
        run_script(manager, &sql).await
    }
}
