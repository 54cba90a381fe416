//! The audit trail: `audit_events`, append-only, one hash chain per tenant (and one
//! for the platform, under the nil tenant id), and `audit_chain_heads`, the last
//! position and hash of each chain, whose row lock serializes appends to a chain.
//!
//! Postgres: the application role may insert and read its tenant's events, never
//! update or delete them (no grant, and a trigger refuses it to every role unless the
//! retention job has switched `tessera.audit_retention` on inside its transaction; on
//! SQLite, unless it has marked its run in `audit_retention_runs`). The owner (the
//! role that runs migrations, and `tessera audit verify|archive`) reads every chain
//! through its own policy, since row level security is forced on the owner too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, CURRENT_TENANT, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000011_audit_trail"
    }
}

/// The platform chain's tenant id.
pub const PLATFORM_CHAIN: &str = "00000000-0000-0000-0000-000000000000";

fn tables(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE audit_events (\n\
           tenant_id {id} NOT NULL,\n\
           sequence bigint NOT NULL,\n\
           id {id} NOT NULL,\n\
           actor_kind text NOT NULL,\n\
           actor_id {id},\n\
           action text NOT NULL,\n\
           target_type text NOT NULL,\n\
           target_id text,\n\
           changes text NOT NULL,\n\
           ip text,\n\
           user_agent text,\n\
           request_id text,\n\
           occurred_at {time} NOT NULL,\n\
           previous_hash text NOT NULL,\n\
           hash text NOT NULL,\n\
           PRIMARY KEY (tenant_id, sequence)\n\
         );\n\
         CREATE UNIQUE INDEX ux_audit_events_id ON audit_events (tenant_id, id);\n\
         CREATE INDEX ix_audit_events_time ON audit_events (tenant_id, occurred_at, id);\n\
         CREATE INDEX ix_audit_events_action ON audit_events (tenant_id, action, occurred_at);\n\
         CREATE TABLE audit_chain_heads (\n\
           chain {id} PRIMARY KEY NOT NULL,\n\
           sequence bigint NOT NULL,\n\
           hash text NOT NULL,\n\
           archived_sequence bigint NOT NULL DEFAULT 0,\n\
           archived_hash text NOT NULL DEFAULT ''\n\
         );\n"
    )
}

fn postgres_locks() -> String {
    format!(
        "GRANT SELECT, INSERT ON audit_events TO {APP_ROLE};\n\
         ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY tenant_isolation ON audit_events FOR SELECT USING (tenant_id = {CURRENT_TENANT});\n\
         CREATE POLICY audit_append ON audit_events FOR INSERT \
           WITH CHECK (tenant_id = {CURRENT_TENANT} OR tenant_id = '{PLATFORM_CHAIN}'::uuid);\n\
         GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO {APP_ROLE};\n\
         ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY chain_isolation ON audit_chain_heads \
           USING (chain = {CURRENT_TENANT} OR chain = '{PLATFORM_CHAIN}'::uuid) \
           WITH CHECK (chain = {CURRENT_TENANT} OR chain = '{PLATFORM_CHAIN}'::uuid);\n\
         CREATE POLICY owner_maintenance ON audit_events FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);\n\
         CREATE POLICY owner_maintenance ON audit_chain_heads FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);\n\
         CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         BEGIN\n\
           IF TG_OP = 'DELETE' AND current_setting('tessera.audit_retention', true) = 'on' THEN\n\
             RETURN OLD;\n\
           END IF;\n\
           RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';\n\
         END $$;\n\
         CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
           FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();\n"
    )
}

/// SQLite has no session settings: the retention job marks its run with a row in
/// `audit_retention_runs` inside its transaction, and only then may it delete.
const SQLITE_TRIGGERS: &str = "\
CREATE TABLE audit_retention_runs (started_at TEXT NOT NULL);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events WHEN NOT EXISTS (SELECT 1 FROM audit_retention_runs) BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &tables("uuid", "timestamptz")).await?;
                run_script(manager, &postgres_locks()).await
            }
            DbBackend::Sqlite => {
                run_script(manager, &tables("BLOB", "TEXT")).await?;
                run_script(manager, SQLITE_TRIGGERS).await
            }
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(
                manager,
                &format!(
                    "DROP TRIGGER audit_events_append_only ON audit_events;\n\
                     DROP FUNCTION audit_events_append_only();\n\
                     REVOKE ALL ON audit_events FROM {APP_ROLE};\n\
                     REVOKE ALL ON audit_chain_heads FROM {APP_ROLE};\n"
                ),
            )
            .await?;
        }
        if manager.get_database_backend() == DbBackend::Sqlite {
            run_script(manager, "DROP TABLE audit_retention_runs;").await?;
        }
        run_script(manager, "DROP TABLE audit_chain_heads;\nDROP TABLE audit_events;").await
    }
}
