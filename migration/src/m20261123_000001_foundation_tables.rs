//! Tenants, users, roles and their permissions, memberships, workspaces and their
//! members, and log-in sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::run_script;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_foundation_tables"
    }
}

const POSTGRES_UP: &str = r#"
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL,
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
    plan        text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT ux_tenants_slug UNIQUE (slug)
);
CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    email              text NOT NULL CHECK (email = lower(email)),
    display_name       text NOT NULL,
    password_hash      text NOT NULL,
    email_verified_at  timestamptz,
    is_platform_admin  boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT ux_users_email UNIQUE (email)
);
CREATE TABLE roles (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    name        text NOT NULL,
    system_key  text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_roles_tenant_name UNIQUE (tenant_id, name)
);
CREATE TABLE role_permissions (
    tenant_id   uuid NOT NULL,
    role_id     uuid NOT NULL,
    permission  text NOT NULL,
    PRIMARY KEY (tenant_id, role_id, permission),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     uuid NOT NULL,
    status      text NOT NULL CHECK (status IN ('invited', 'active', 'removed')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_memberships_tenant_user UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
-- A user's own memberships across tenants are looked up at log-in.
CREATE INDEX ix_memberships_user ON memberships (user_id, created_at);
CREATE TABLE workspaces (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    slug        text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_workspaces_tenant_slug UNIQUE (tenant_id, slug)
);
-- Keyset pagination order.
CREATE INDEX ix_workspaces_tenant_created ON workspaces (tenant_id, created_at, id);
CREATE TABLE workspace_members (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    user_id       uuid NOT NULL,
    role_id       uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_workspace_members_member UNIQUE (tenant_id, workspace_id, user_id),
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX ix_workspace_members_user ON workspace_members (tenant_id, user_id);
-- Sessions belong to a user, not to a tenant: the tenant they are currently in is an
-- attribute that switching tenants changes.
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    refresh_token_hash  text NOT NULL,
    user_agent          text,
    ip                  text,
    created_at          timestamptz NOT NULL,
    last_used_at        timestamptz,
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    CONSTRAINT ux_sessions_refresh_token UNIQUE (refresh_token_hash)
);
CREATE INDEX ix_sessions_user ON sessions (user_id);
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE tenants (
    id          BLOB PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
    plan        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT ux_tenants_slug UNIQUE (slug)
);
CREATE TABLE users (
    id                 BLOB PRIMARY KEY NOT NULL,
    email              TEXT NOT NULL CHECK (email = lower(email)),
    display_name       TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    email_verified_at  TEXT,
    is_platform_admin  INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CONSTRAINT ux_users_email UNIQUE (email)
);
CREATE TABLE roles (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          BLOB NOT NULL,
    name        TEXT NOT NULL,
    system_key  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_roles_tenant_name UNIQUE (tenant_id, name)
);
CREATE TABLE role_permissions (
    tenant_id   BLOB NOT NULL,
    role_id     BLOB NOT NULL,
    permission  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_id, permission),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE TABLE memberships (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          BLOB NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     BLOB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('invited', 'active', 'removed')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_memberships_tenant_user UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX ix_memberships_user ON memberships (user_id, created_at);
CREATE TABLE workspaces (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          BLOB NOT NULL,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_workspaces_tenant_slug UNIQUE (tenant_id, slug)
);
CREATE INDEX ix_workspaces_tenant_created ON workspaces (tenant_id, created_at, id);
CREATE TABLE workspace_members (
    tenant_id     BLOB NOT NULL,
    id            BLOB NOT NULL,
    workspace_id  BLOB NOT NULL,
    user_id       BLOB NOT NULL,
    role_id       BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_workspace_members_member UNIQUE (tenant_id, workspace_id, user_id),
    FOREIGN KEY (tenant_id, workspace_id) REFERENCES workspaces (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX ix_workspace_members_user ON workspace_members (tenant_id, user_id);
CREATE TABLE sessions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    refresh_token_hash  TEXT NOT NULL,
    user_agent          TEXT,
    ip                  TEXT,
    created_at          TEXT NOT NULL,
    last_used_at        TEXT,
    expires_at          TEXT NOT NULL,
    revoked_at          TEXT,
    CONSTRAINT ux_sessions_refresh_token UNIQUE (refresh_token_hash)
);
CREATE INDEX ix_sessions_user ON sessions (user_id);
"#;

const DOWN: &str = r#"
DROP TABLE sessions;
DROP TABLE workspace_members;
DROP TABLE workspaces;
DROP TABLE memberships;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE users;
DROP TABLE tenants;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run_script(manager, POSTGRES_UP).await,
            DbBackend::Sqlite => run_script(manager, SQLITE_UP).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, DOWN).await
    }
}
