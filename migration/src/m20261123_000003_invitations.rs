//! Invitations to join a tenant: addressed to an email, with a role, single use and
//! expiring; only the token's digest is stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_invitations"
    }
}

const POSTGRES_UP: &str = r#"
CREATE TABLE invitations (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    email         text NOT NULL CHECK (email = lower(email)),
    role_id       uuid NOT NULL,
    invited_by    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_digest  text NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked')),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_invitations_token UNIQUE (tenant_id, token_digest),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ix_invitations_tenant_created ON invitations (tenant_id, created_at, id);
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE invitations (
    tenant_id     BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            BLOB NOT NULL,
    email         TEXT NOT NULL CHECK (email = lower(email)),
    role_id       BLOB NOT NULL,
    invited_by    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_digest  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    accepted_at   TEXT,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_invitations_token UNIQUE (tenant_id, token_digest),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ix_invitations_tenant_created ON invitations (tenant_id, created_at, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, POSTGRES_UP).await?;
                run_script(manager, &protect_tenant_table("invitations")).await
            }
            DbBackend::Sqlite => run_script(manager, SQLITE_UP).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(manager, &unprotect_tenant_table("invitations")).await?;
        }
        run_script(manager, "DROP TABLE invitations;").await
    }
}
