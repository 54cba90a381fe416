//! Tenant API keys: named, permission-limited, expiring, revocable; only the digest
//! of the secret is stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000006_api_keys"
    }
}

const POSTGRES_UP: &str = r#"
CREATE TABLE api_keys (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    name           text NOT NULL,
    permissions    text NOT NULL,
    secret_digest  text NOT NULL,
    created_by     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_api_keys_tenant_created ON api_keys (tenant_id, created_at, id);
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE api_keys (
    tenant_id      BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             BLOB NOT NULL,
    name           TEXT NOT NULL,
    permissions    TEXT NOT NULL,
    secret_digest  TEXT NOT NULL,
    created_by     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    revoked_at     TEXT,
    last_used_at   TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_api_keys_tenant_created ON api_keys (tenant_id, created_at, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, POSTGRES_UP).await?;
                run_script(manager, &protect_tenant_table("api_keys")).await
            }
            DbBackend::Sqlite => run_script(manager, SQLITE_UP).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, &unprotect_tenant_table("api_keys")).await?;
        }
        run_script(manager, "DROP TABLE api_keys;").await
    }
}
