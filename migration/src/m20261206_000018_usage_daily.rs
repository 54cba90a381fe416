//! The usage rollups: one row per tenant, day (UTC) and principal (a person or an API
//! key) with its API calls, its calls that answered with errors and its refused
//! requests (`usage_daily`, what a tenant's reports read), and one row per tenant and
//! month with the same sums and its last active day (`usage_tenant_monthly`, what the
//! monthly quota and the platform-wide questions read: a row per tenant, however many
//! days, people and keys it has). The meter of each replica adds to both; on Postgres
//! through functions that run as the schema owner, because a flush and the platform's
//! questions span tenants: one adds counts (and nothing else) for tenants that still
//! exist, one reads tenants' calls this month, one reads every tenant's activity.
//! Sign-ups and finished onboardings are counted per day through two new indexes.
//! Existing owner and admin roles are given `analytics:read`, as new ones are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, protect_tenant_table, run_script, unprotect_tenant_table};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000018_usage_daily"
    }
}

fn table(id: &str, day: &str, count: &str) -> String {
    format!(
        "CREATE TABLE usage_daily (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           day {day} NOT NULL,\n\
           principal_kind text NOT NULL CHECK (principal_kind IN ('person', 'api_key')),\n\
           principal_id {id} NOT NULL,\n\
           api_calls {count} NOT NULL DEFAULT 0,\n\
           errors {count} NOT NULL DEFAULT 0,\n\
           refused {count} NOT NULL DEFAULT 0,\n\
           PRIMARY KEY (tenant_id, day, principal_kind, principal_id)\n\
         );\n\
         CREATE TABLE usage_tenant_monthly (\n\
           tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           month {day} NOT NULL,\n\
           api_calls {count} NOT NULL DEFAULT 0,\n\
           errors {count} NOT NULL DEFAULT 0,\n\
           refused {count} NOT NULL DEFAULT 0,\n\
           last_day {day},\n\
           PRIMARY KEY (tenant_id, month)\n\
         );\n\
         CREATE INDEX ix_usage_tenant_monthly_month ON usage_tenant_monthly (month, tenant_id);\n\
         CREATE INDEX ix_users_created_at ON users (created_at);\n\
         CREATE INDEX ix_onboarding_completed_at ON onboarding_progress (completed_at) \
           WHERE completed_at IS NOT NULL;\n\
         INSERT INTO role_permissions (tenant_id, role_id, permission)\n\
           SELECT tenant_id, id, 'analytics:read' FROM roles WHERE system_key IN ('owner', 'admin')\n\
           ON CONFLICT DO NOTHING;\n"
    )
}

fn postgres_functions() -> String {
    format!(
        "CREATE POLICY owner_maintenance ON usage_daily TO CURRENT_USER USING (true) WITH CHECK (true);\n\
CREATE POLICY owner_maintenance ON usage_tenant_monthly TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE FUNCTION usage_add(counts jsonb) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.usage_daily AS u (tenant_id, day, principal_kind, principal_id, api_calls, errors, refused)
    SELECT r.tenant_id, r.day, r.principal_kind, r.principal_id, r.api_calls, r.errors, r.refused
    FROM jsonb_to_recordset(counts) AS r(tenant_id uuid, day date, principal_kind text, principal_id uuid,
                                         api_calls bigint, errors bigint, refused bigint)
    WHERE EXISTS (SELECT 1 FROM public.tenants AS t WHERE t.id = r.tenant_id)
    ON CONFLICT (tenant_id, day, principal_kind, principal_id) DO UPDATE
    SET api_calls = u.api_calls + excluded.api_calls,
        errors = u.errors + excluded.errors,
        refused = u.refused + excluded.refused;
    INSERT INTO public.usage_tenant_monthly AS u (tenant_id, month, api_calls, errors, refused, last_day)
    SELECT r.tenant_id, date_trunc('month', r.day)::date, sum(r.api_calls), sum(r.errors), sum(r.refused),
           max(CASE WHEN r.api_calls > 0 THEN r.day END)
    FROM jsonb_to_recordset(counts) AS r(tenant_id uuid, day date, api_calls bigint, errors bigint, refused bigint)
    WHERE EXISTS (SELECT 1 FROM public.tenants AS t WHERE t.id = r.tenant_id)
    GROUP BY r.tenant_id, date_trunc('month', r.day)
    ON CONFLICT (tenant_id, month) DO UPDATE
    SET api_calls = u.api_calls + excluded.api_calls,
        errors = u.errors + excluded.errors,
        refused = u.refused + excluded.refused,
        last_day = greatest(u.last_day, excluded.last_day)
  $$;
CREATE FUNCTION usage_tenant_activity(since_month date, this_month date)
  RETURNS TABLE (tenant_id uuid, calls bigint, errors bigint, month_calls bigint, last_day date)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT u.tenant_id,
           sum(CASE WHEN u.month = this_month THEN u.api_calls ELSE 0 END)::bigint,
           sum(CASE WHEN u.month = this_month THEN u.errors ELSE 0 END)::bigint,
           sum(CASE WHEN u.month = this_month THEN u.api_calls ELSE 0 END)::bigint,
           max(u.last_day)
    FROM public.usage_tenant_monthly AS u
    WHERE u.month >= since_month
    GROUP BY u.tenant_id
  $$;
CREATE FUNCTION usage_month_calls(tenant_ids uuid[], this_month date) RETURNS TABLE (tenant_id uuid, calls bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT u.tenant_id, u.api_calls FROM public.usage_tenant_monthly AS u
    WHERE u.tenant_id = ANY (tenant_ids) AND u.month = this_month
  $$;
REVOKE ALL ON FUNCTION usage_add(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION usage_month_calls(uuid[], date) FROM PUBLIC;
REVOKE ALL ON FUNCTION usage_tenant_activity(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION usage_tenant_activity(date, date) TO {APP_ROLE};
GRANT EXECUTE ON FUNCTION usage_add(jsonb) TO {APP_ROLE};
GRANT EXECUTE ON FUNCTION usage_month_calls(uuid[], date) TO {APP_ROLE};
"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                run_script(manager, &table("uuid", "date", "bigint")).await?;
                run_script(manager, &protect_tenant_table("usage_daily")).await?;
                run_script(manager, &protect_tenant_table("usage_tenant_monthly")).await?;
                run_script(manager, &postgres_functions()).await
            }
            DbBackend::Sqlite => run_script(manager, &table("BLOB", "TEXT", "INTEGER")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_script(
                manager,
                "DROP FUNCTION usage_tenant_activity(date, date);\n\
                 DROP FUNCTION usage_month_calls(uuid[], date);\n\
                 DROP FUNCTION usage_add(jsonb);\n\
                 DROP POLICY owner_maintenance ON usage_tenant_monthly;\n\
                 DROP POLICY owner_maintenance ON usage_daily;\n",
            )
            .await?;
            run_script(manager, &unprotect_tenant_table("usage_tenant_monthly")).await?;
            run_script(manager, &unprotect_tenant_table("usage_daily")).await?;
        }
        run_script(
            manager,
            "DROP INDEX ix_onboarding_completed_at;\nDROP INDEX ix_users_created_at;\n\
             DROP TABLE usage_tenant_monthly;\nDROP TABLE usage_daily;\nDELETE FROM role_permissions WHERE permission = 'analytics:read';\n",
        )
        .await
    }
}
