//! Webhooks and outbox delivery: the outbox learns retries (attempts and when to try
//! next); tenants get webhook endpoints and a log of deliveries. On Postgres both new
//! tables are tenant tables under row level security, and two functions owned by the
//! schema owner tell the workers which tenants have work due (tenant ids only), so the
//! runtime role never reads across tenants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000013_webhooks"
    }
}

fn tables(id: &str, time: &str) -> String {
    format!(
        "ALTER TABLE outbox_events ADD COLUMN attempts integer NOT NULL DEFAULT 0;\n\
         ALTER TABLE outbox_events ADD COLUMN next_attempt_at {time};\n\
         CREATE TABLE webhook_endpoints (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           id {id} NOT NULL,\n\
           url text NOT NULL,\n\
           description text NOT NULL,\n\
           event_types text NOT NULL,\n\
           secret text NOT NULL,\n\
           previous_secret text,\n\
           previous_secret_expires_at {time},\n\
           enabled boolean NOT NULL,\n\
           disabled_reason text,\n\
           failed_deliveries_in_a_row integer NOT NULL DEFAULT 0,\n\
           created_at {time} NOT NULL,\n\
           updated_at {time} NOT NULL,\n\
           PRIMARY KEY (tenant_id, id)\n\
         );\n\
         CREATE INDEX ix_webhook_endpoints_tenant_created ON webhook_endpoints (tenant_id, created_at, id);\n\
         CREATE TABLE webhook_deliveries (\n\
           tenant_id {id} NOT NULL,\n\
           id {id} NOT NULL,\n\
           endpoint_id {id} NOT NULL,\n\
           event_id {id} NOT NULL,\n\
           event_type text NOT NULL,\n\
           payload text NOT NULL,\n\
           status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),\n\
           attempts integer NOT NULL DEFAULT 0,\n\
           next_attempt_at {time} NOT NULL,\n\
           last_attempt_at {time},\n\
           response_status integer,\n\
           last_error text,\n\
           created_at {time} NOT NULL,\n\
           completed_at {time},\n\
           PRIMARY KEY (tenant_id, id),\n\
           FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE\n\
         );\n\
         CREATE INDEX ix_webhook_deliveries_endpoint_created ON webhook_deliveries (tenant_id, endpoint_id, created_at, id);\n\
         CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';\n\
         CREATE INDEX ix_webhook_deliveries_tenant_due ON webhook_deliveries (tenant_id, next_attempt_at) WHERE status = 'pending';\n"
    )
}

const POSTGRES_WORK_QUEUES: &str = "\
CREATE POLICY owner_maintenance ON outbox_events FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_maintenance ON webhook_deliveries FOR SELECT TO CURRENT_USER USING (true);
CREATE FUNCTION outbox_due_tenants(due_by timestamptz, max_tenants integer) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT DISTINCT tenant_id FROM public.outbox_events
    WHERE delivered_at IS NULL AND coalesce(next_attempt_at, created_at) <= due_by
    LIMIT max_tenants
  $$;
CREATE FUNCTION webhook_due_tenants(due_by timestamptz, max_tenants integer) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT DISTINCT tenant_id FROM public.webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= due_by
    LIMIT max_tenants
  $$;
REVOKE ALL ON FUNCTION outbox_due_tenants(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION webhook_due_tenants(timestamptz, integer) FROM PUBLIC;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &tables("uuid", "timestamptz")).await?;
                run_script(manager, &protect_tenant_table("webhook_endpoints")).await?;
                run_script(manager, &protect_tenant_table("webhook_deliveries")).await?;
                run_script(manager, POSTGRES_WORK_QUEUES).await?;
                run_script(
                    manager,
                    &format!(
                        "GRANT EXECUTE ON FUNCTION outbox_due_tenants(timestamptz, integer) TO {APP_ROLE};\n\
                         GRANT EXECUTE ON FUNCTION webhook_due_tenants(timestamptz, integer) TO {APP_ROLE};\n"
                    ),
                )
                .await
            }
            DbBackend::Sqlite => run_script(manager, &tables("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(
                manager,
                "DROP FUNCTION webhook_due_tenants(timestamptz, integer);\n\
                 DROP FUNCTION outbox_due_tenants(timestamptz, integer);\n\
                 DROP POLICY owner_maintenance ON webhook_deliveries;\n\
                 DROP POLICY owner_maintenance ON outbox_events;\n",
            )
            .await?;
            run_script(manager, &unprotect_tenant_table("webhook_deliveries")).await?;
            run_script(manager, &unprotect_tenant_table("webhook_endpoints")).await?;
        }
        run_script(
            manager,
            "DROP TABLE webhook_deliveries;\nDROP TABLE webhook_endpoints;\n\
             ALTER TABLE outbox_events DROP COLUMN next_attempt_at;\n\
             ALTER TABLE outbox_events DROP COLUMN attempts;\n",
        )
        .await
    }
}
