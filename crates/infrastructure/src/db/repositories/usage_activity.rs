//! The platform's one pass over every tenant's monthly rollups (a row per tenant and
//! month): how many tenants were active, the busiest and the most failing this month,
//! and those near their monthly quota.

use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter};
use tessera_application::ports::{ActivityWindow, StoreResult, TenantActivity, TenantCalls};
use tessera_domain::{Tenant, TenantId};
use uuid::Uuid;

use super::usage::{Params, count, signed};
use crate::db::entities::tenant;
use crate::db::{SeaTransaction, db_failure};

impl SeaTransaction {
    /// [`UsageRepository::tenant_activity`]: one statement over every tenant's monthly
    /// rollups (the `usage_tenant_activity` function on Postgres, which runs as the
    /// schema owner), then one for the tenants it names.
    pub(super) async fn activity_of_every_tenant(
        &self,
        window: &ActivityWindow,
        monthly_limits: &[(String, u64)],
        ranked: u64,
        candidates: u64,
    ) -> StoreResult<TenantActivity> {
        // Bound in the order the placeholders appear (SQLite's are positional).
        let mut params = Params::new(self.backend);
        // A row per tenant and month: this month's, and the last month's for the
        // tenants last active then (within the 30 days looked at).
        let since_month = tessera_domain::usage::first_of_month(window.since.min(window.month));
        let activity = if self.backend == DbBackend::Postgres {
            let [since_month, month] = [since_month, window.month].map(|day| params.day(day));
            format!("usage_tenant_activity({since_month}, {month})")
        } else {
            let [month, month_2, month_3, since_month] =
                [window.month, window.month, window.month, since_month].map(|day| params.day(day));
            format!(
                "(SELECT tenant_id, \
                 sum(CASE WHEN month = {month} THEN api_calls ELSE 0 END) AS calls, \
                 sum(CASE WHEN month = {month_2} THEN errors ELSE 0 END) AS errors, \
                 sum(CASE WHEN month = {month_3} THEN api_calls ELSE 0 END) AS month_calls, \
                 max(last_day) AS last_day \
                 FROM usage_tenant_monthly WHERE month >= {since_month} GROUP BY tenant_id)"
            )
        };
        // Each plan's finite monthly quota (a row that matches no plan when none has one).
        let mut limits: Vec<String> = monthly_limits
            .iter()
            .map(|(plan, limit)| {
                format!(
                    "({}, {})",
                    params.bind(plan.as_str(), ""),
                    params.bind(signed(*limit), "")
                )
            })
            .collect();
        if limits.is_empty() {
            limits.push(format!("({}, 0)", params.bind("", "")));
        }
        let limits = limits.join(", ");
        let [ranked, ranked_2] = [ranked, ranked].map(|n| params.bind(signed(n), ""));
        let [recent, active_since] = [window.recent, window.since].map(|day| params.day(day));
        let near = params.bind(signed(window.near_percent), "");
        let candidates = params.bind(signed(candidates), "");
        let sql = format!(
            "WITH t AS (SELECT * FROM {activity} AS a), l (plan, monthly) AS (VALUES {limits}) \
             SELECT 'calls' AS list, x.tenant_id, x.calls, x.errors FROM \
               (SELECT tenant_id, calls, errors FROM t WHERE calls > 0 ORDER BY calls DESC, tenant_id LIMIT {ranked}) AS x \
             UNION ALL SELECT 'errors', x.tenant_id, x.calls, x.errors FROM \
               (SELECT tenant_id, calls, errors FROM t WHERE errors > 0 ORDER BY errors DESC, tenant_id LIMIT {ranked_2}) AS x \
             UNION ALL SELECT 'active', NULL, count(*), \
               coalesce(sum(CASE WHEN last_day >= {recent} THEN 1 ELSE 0 END), 0) FROM t WHERE last_day >= {active_since} \
             UNION ALL SELECT 'quota', x.tenant_id, x.month_calls, 0 FROM \
               (SELECT t.tenant_id, t.month_calls FROM t JOIN tenants AS n ON n.id = t.tenant_id \
                LEFT JOIN l ON l.plan = n.plan \
                WHERE t.month_calls > 0 AND (n.plan_overrides <> '[]' OR t.month_calls * 100 >= l.monthly * {near}) \
                ORDER BY t.month_calls DESC, t.tenant_id LIMIT {candidates}) AS x"
        );
        let rows = self.rows(params, sql).await?;
        let mut found = TenantActivity::default();
        let mut quota = Vec::new();
        for row in &rows {
            let list: String = row.try_get("", "list").map_err(db_failure)?;
            let tenant: Option<Uuid> = row.try_get("", "tenant_id").map_err(db_failure)?;
            let (calls, errors) = (count(row, "calls")?, count(row, "errors")?);
            match (list.as_str(), tenant) {
                ("active", _) => (found.active_since, found.active_recently) = (calls, errors),
                ("quota", Some(id)) => quota.push((TenantId::from_uuid(id), calls)),
                (_, Some(id)) => {
                    let entry = TenantCalls {
                        tenant_id: TenantId::from_uuid(id),
                        slug: String::new(),
                        name: String::new(),
                        calls,
                        errors,
                    };
                    if list == "calls" {
                        found.busiest.push(entry);
                    } else {
                        found.most_errors.push(entry);
                    }
                }
                _ => {}
            }
        }
        // The tenants named, in one more statement.
        let mut ids: Vec<TenantId> = found
            .busiest
            .iter()
            .chain(&found.most_errors)
            .map(|t| t.tenant_id)
            .chain(quota.iter().map(|(id, _)| *id))
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(found);
        }
        let tenants: Vec<Tenant> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(tenant::Model::into_domain)
            .collect::<Result<_, _>>()?;
        let by_id = |id: TenantId| tenants.iter().find(|t| t.id == id);
        for entry in found.busiest.iter_mut().chain(found.most_errors.iter_mut()) {
            if let Some(tenant) = by_id(entry.tenant_id) {
                entry.slug = tenant.slug.to_string();
                entry.name = tenant.name.as_str().to_owned();
            }
        }
        found.month_calls = quota
            .into_iter()
            .filter_map(|(id, calls)| Some((by_id(id)?.clone(), calls)))
            .collect();
        Ok(found)
    }
}
