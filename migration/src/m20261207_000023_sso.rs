//! Single sign-on: each tenant's OpenID Connect connection (a tenant table under row
//! level security; its client secret sealed by the application) and the short-lived
//! sign-ins between a browser's start, the provider's callback and the hand-over of the
//! token pair (global: the callback does not know the tenant before it reads one).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000023_sso"
    }
}

fn tables(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE sso_connections (\n\
           tenant_id {id} PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           issuer text NOT NULL,\n\
           client_id text NOT NULL,\n\
           sealed_client_secret text NOT NULL,\n\
           provisioned_role_id {id} NOT NULL,\n\
           domains text NOT NULL,\n\
           required boolean NOT NULL DEFAULT false,\n\
           created_at {time} NOT NULL,\n\
           updated_at {time} NOT NULL\n\
         );\n\
         CREATE TABLE sso_sign_ins (\n\
           state_digest text PRIMARY KEY NOT NULL,\n\
           sign_in_tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           nonce text NOT NULL,\n\
           sealed_code_verifier text NOT NULL,\n\
           browser_digest text NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           expires_at {time} NOT NULL,\n\
           callback_at {time},\n\
           user_id {id} REFERENCES users (id) ON DELETE CASCADE,\n\
           handover_digest text UNIQUE,\n\
           handed_over_at {time},\n\
           app_state text\n\
         );\n\
         CREATE INDEX ix_sso_sign_ins_expires ON sso_sign_ins (expires_at);\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let mut sql = tables("uuid", "timestamptz");
                sql.push_str(&protect_tenant_table("sso_connections"));
                sql.push_str(&format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON sso_sign_ins TO {APP_ROLE};\n"
                ));
                run_script(manager, &sql).await
            }
            DbBackend::Sqlite => run_script(manager, &tables("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut sql = String::new();
        if manager.get_database_backend() == DbBackend::Postgres {
            sql.push_str(&unprotect_tenant_table("sso_connections"));
        }
        sql.push_str("DROP TABLE sso_sign_ins;\nDROP TABLE sso_connections;\n");
        run_script(manager, &sql).await
    }
}
