//! Offboarding: a tenant may be pending deletion (its grace period, with when it was
//! asked for, when the purge may start and the status a cancellation restores), and a
//! tenant's exports are kept with their progress (`tenant_exports`, a tenant table).
//! On Postgres two functions run as the schema owner: one lists the exports a worker
//! should pick up (across tenants), one removes a tenant's audit trail, in batches,
//! and only once the tenant is pending deletion (or being purged) past its grace period:
//! the application role cannot delete audit events itself, nor any of an active tenant.
//! A third reads the events a person did in any tenant, for that person's own data
//! export (indexed by actor), and only the person the transaction is entered for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261206_000016_status_reason::rewrite_sqlite_check;
use crate::{APP_ROLE, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000019_offboarding"
    }
}

const OLD_CHECK: &str = "CHECK (status IN ('active', 'past_due', 'suspended', 'deleted'))";
const NEW_CHECK: &str = "CHECK (status IN ('active', 'past_due', 'suspended', 'pending_deletion', 'deleted'))";

fn tables(id: &str, time: &str, count: &str) -> String {
    format!(
        "ALTER TABLE tenants ADD COLUMN deletion_requested_at {time};\n\
         ALTER TABLE tenants ADD COLUMN deletion_due_at {time};\n\
         ALTER TABLE tenants ADD COLUMN status_before_deletion text;\n\
         CREATE INDEX ix_tenants_deletion_due ON tenants (deletion_due_at) WHERE deletion_due_at IS NOT NULL;\n\
         CREATE TABLE tenant_exports (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           requested_by {id},\n\
           status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'expired')),\n\
           tables_done integer NOT NULL DEFAULT 0,\n\
           tables_total integer NOT NULL DEFAULT 0,\n\
           rows_written {count} NOT NULL DEFAULT 0,\n\
           bytes {count} NOT NULL DEFAULT 0,\n\
           sha256 text,\n\
           error text,\n\
           created_at {time} NOT NULL,\n\
           started_at {time},\n\
           finished_at {time},\n\
           expires_at {time},\n\
           lease_until {time},\n\
           PRIMARY KEY (tenant_id, id)\n\
         );\n\
         CREATE INDEX ix_tenant_exports_created ON tenant_exports (tenant_id, created_at, id);\n\
         CREATE INDEX ix_tenant_exports_open ON tenant_exports (created_at) \
           WHERE status IN ('queued', 'running', 'completed');\n\
         CREATE INDEX ix_audit_events_actor ON audit_events (actor_id, tenant_id, sequence) \
           WHERE actor_id IS NOT NULL;\n"
    )
}

fn postgres_functions() -> String {
    format!(
        "CREATE POLICY owner_maintenance ON tenant_exports TO CURRENT_USER USING (true) WITH CHECK (true);\n\
CREATE FUNCTION tenant_exports_due(at timestamptz, max integer) RETURNS TABLE (tenant_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT e.tenant_id, e.id FROM tenant_exports e
    WHERE e.status = 'queued'
       OR (e.status = 'running' AND e.lease_until < at)
       OR (e.status = 'completed' AND e.expires_at <= at)
    ORDER BY e.created_at LIMIT max
  $$;
CREATE FUNCTION purge_tenant_audit(target uuid, max integer) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  DECLARE removed integer;
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = target AND t.status IN ('pending_deletion', 'deleted')
                   AND t.deletion_due_at <= now()) THEN
      RAISE EXCEPTION 'tenant % is not due for purge', target USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('tessera.audit_retention', 'on', true);
    DELETE FROM audit_events WHERE ctid = ANY (ARRAY(
      SELECT a.ctid FROM audit_events a WHERE a.tenant_id = target LIMIT max));
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('tessera.audit_retention', 'off', true);
    IF removed = 0 THEN
      DELETE FROM audit_chain_heads WHERE chain = target;
    END IF;
    RETURN removed;
  END $$;
CREATE FUNCTION audit_events_of_actor(actor uuid, after_tenant uuid, after_sequence bigint, max integer)
  RETURNS SETOF audit_events
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT * FROM audit_events a
    WHERE a.actor_id = actor AND a.actor_kind IN ('user', 'platform_admin')
      AND actor = (SELECT nullif(current_setting('app.user_id', true), ''))::uuid
      AND (a.tenant_id, a.sequence) > (after_tenant, after_sequence)
    ORDER BY a.tenant_id, a.sequence LIMIT max
  $$;
REVOKE ALL ON FUNCTION audit_events_of_actor(uuid, uuid, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_events_of_actor(uuid, uuid, bigint, integer) TO {APP_ROLE};
REVOKE ALL ON FUNCTION tenant_exports_due(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION purge_tenant_audit(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_exports_due(timestamptz, integer) TO {APP_ROLE};
GRANT EXECUTE ON FUNCTION purge_tenant_audit(uuid, integer) TO {APP_ROLE};
"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(
                    manager,
                    &format!(
                        "ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;\n\
                         ALTER TABLE tenants ADD CONSTRAINT tenants_status_check {NEW_CHECK};\n"
                    ),
                )
                .await?;
                run_script(manager, &tables("uuid", "timestamptz", "bigint")).await?;
                run_script(manager, &protect_tenant_table("tenant_exports")).await?;
                run_script(manager, &postgres_functions()).await
            }
            DbBackend::Sqlite => {
                rewrite_sqlite_check(manager, OLD_CHECK, NEW_CHECK).await?;
                run_script(manager, &tables("BLOB", "TEXT", "INTEGER")).await
            }
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        if postgres {
            run_script(
                manager,
                "DROP FUNCTION audit_events_of_actor(uuid, uuid, bigint, integer);\n\
                 DROP FUNCTION purge_tenant_audit(uuid, integer);\n\
                 DROP FUNCTION tenant_exports_due(timestamptz, integer);\n\
                 DROP POLICY owner_maintenance ON tenant_exports;\n",
            )
            .await?;
            run_script(manager, &unprotect_tenant_table("tenant_exports")).await?;
        }
        run_script(
            manager,
            "DROP INDEX ix_audit_events_actor;\n\
             DROP TABLE tenant_exports;\n\
             DROP INDEX ix_tenants_deletion_due;\n\
             UPDATE tenants SET status = coalesce(status_before_deletion, 'active') WHERE status = 'pending_deletion';\n\
             ALTER TABLE tenants DROP COLUMN status_before_deletion;\n\
             ALTER TABLE tenants DROP COLUMN deletion_due_at;\n\
             ALTER TABLE tenants DROP COLUMN deletion_requested_at;\n",
        )
        .await?;
        if postgres {
            run_script(
                manager,
                &format!(
                    "ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;\n\
                     ALTER TABLE tenants ADD CONSTRAINT tenants_status_check {OLD_CHECK};\n"
                ),
            )
            .await
        } else {
            rewrite_sqlite_check(manager, NEW_CHECK, OLD_CHECK).await
        }
    }
}
