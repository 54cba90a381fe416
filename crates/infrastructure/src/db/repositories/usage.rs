//! The daily usage rollups, in plain SQL: a flush is one multi-row upsert (on Postgres,
//! the `usage_add` function, which spans tenants), and a report is one grouped
//! statement over a list of buckets, however many buckets it has.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde_json::json;
use tessera_application::TenantScope;
use tessera_application::ports::{ActivityWindow, StoreResult, TenantActivity, UsageRepository};
use tessera_domain::{ApiKeyId, Bucket, RoleId, TenantId, UsageCounts, UsageKey, UsagePoint};
use uuid::Uuid;

use crate::db::{SeaTransaction, db_failure};

/// Rows per statement on SQLite (seven parameters each).
const SQLITE_CHUNK: usize = 500;

/// Placeholders in the backend's dialect (`$n` on Postgres, `?` on SQLite, where they
/// are positional: bind in the order they appear in the text).
pub(super) struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    pub(super) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds `value`, cast to `cast` on Postgres (`""` for none).
    pub(super) fn bind(&mut self, value: impl Into<Value>, cast: &str) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres if cast.is_empty() => format!("${}", self.values.len()),
            DbBackend::Postgres => format!("${}::{cast}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    pub(super) fn day(&mut self, day: NaiveDate) -> String {
        self.bind(day.format("%Y-%m-%d").to_string(), "date")
    }

    /// Midnight (UTC) at the start of `day`, to compare with a timestamp column (SQLite
    /// keeps timestamps as ISO text, which sorts after the bare date).
    fn midnight(&mut self, day: NaiveDate) -> String {
        match self.backend {
            DbBackend::Postgres => self.bind(day.and_time(chrono::NaiveTime::MIN).and_utc(), "timestamptz"),
            _ => self.bind(day.format("%Y-%m-%d").to_string(), ""),
        }
    }

    /// `(start, end), …` for a `VALUES` list of buckets, as dates or as timestamps.
    fn buckets(&mut self, buckets: &[Bucket], as_timestamps: bool) -> String {
        let values: Vec<String> = buckets
            .iter()
            .map(|bucket| {
                let [start, end] = [bucket.start, bucket.end].map(|day| match as_timestamps {
                    true => self.midnight(day),
                    false => self.day(day),
                });
                format!("({start}, {end})")
            })
            .collect();
        values.join(", ")
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

pub(super) fn count(row: &QueryResult, column: &str) -> StoreResult<u64> {
    let value: i64 = row.try_get("", column).map_err(db_failure)?;
    Ok(u64::try_from(value).unwrap_or(0))
}

pub(super) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SeaTransaction {
    async fn add_on_sqlite(&self, rows: &[(UsageKey, UsageCounts)]) -> StoreResult<()> {
        for chunk in rows.chunks(SQLITE_CHUNK) {
            let mut params = Params::new(self.backend);
            let values: Vec<String> = chunk
                .iter()
                .map(|(key, counts)| {
                    let fields = [
                        params.bind(key.tenant_id.as_uuid(), ""),
                        params.day(key.day),
                        params.bind(key.principal.kind(), ""),
                        params.bind(key.principal.id(), ""),
                        params.bind(signed(counts.api_calls), ""),
                        params.bind(signed(counts.errors), ""),
                        params.bind(signed(counts.refused), ""),
                    ];
                    format!("({})", fields.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO usage_daily (tenant_id, day, principal_kind, principal_id, api_calls, errors, refused) \
                 SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 \
                 FROM (VALUES {}) AS v \
                 WHERE EXISTS (SELECT 1 FROM tenants AS t WHERE t.id = v.column1) \
                 ON CONFLICT (tenant_id, day, principal_kind, principal_id) DO UPDATE \
                 SET api_calls = api_calls + excluded.api_calls, errors = errors + excluded.errors, \
                 refused = refused + excluded.refused",
                values.join(", ")
            );
            self.txn.execute_raw(params.statement(sql)).await.map_err(db_failure)?;
        }
        // The same summed per tenant and month, with the last day that had calls.
        let mut by_month: std::collections::BTreeMap<(TenantId, NaiveDate), (UsageCounts, Option<NaiveDate>)> =
            Default::default();
        for (key, counts) in rows {
            let entry = by_month
                .entry((key.tenant_id, tessera_domain::usage::first_of_month(key.day)))
                .or_default();
            entry.0.add(*counts);
            if counts.api_calls > 0 {
                entry.1 = entry.1.max(Some(key.day));
            }
        }
        let by_month: Vec<_> = by_month.into_iter().collect();
        for chunk in by_month.chunks(SQLITE_CHUNK) {
            let mut params = Params::new(self.backend);
            let values: Vec<String> = chunk
                .iter()
                .map(|((tenant, month), (counts, last_day))| {
                    // Bound in the order the placeholders appear (SQLite's are positional).
                    let fields = [
                        params.bind(tenant.as_uuid(), ""),
                        params.day(*month),
                        params.bind(signed(counts.api_calls), ""),
                        params.bind(signed(counts.errors), ""),
                        params.bind(signed(counts.refused), ""),
                    ];
                    let last_day = match last_day {
                        Some(day) => params.day(*day),
                        None => "NULL".to_owned(),
                    };
                    format!("({}, {last_day})", fields.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO usage_tenant_monthly (tenant_id, month, api_calls, errors, refused, last_day) \
                 SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 \
                 FROM (VALUES {}) AS v \
                 WHERE EXISTS (SELECT 1 FROM tenants AS t WHERE t.id = v.column1) \
                 ON CONFLICT (tenant_id, month) DO UPDATE \
                 SET api_calls = api_calls + excluded.api_calls, errors = errors + excluded.errors, \
                 refused = refused + excluded.refused, \
                 last_day = CASE WHEN last_day IS NULL OR excluded.last_day > last_day \
                 THEN coalesce(excluded.last_day, last_day) ELSE last_day END",
                values.join(", ")
            );
            self.txn.execute_raw(params.statement(sql)).await.map_err(db_failure)?;
        }
        Ok(())
    }

    pub(super) async fn rows(&self, params: Params, sql: String) -> StoreResult<Vec<QueryResult>> {
        self.txn.query_all_raw(params.statement(sql)).await.map_err(db_failure)
    }
}

#[async_trait]
impl UsageRepository for SeaTransaction {
    async fn add(&self, rows: &[(UsageKey, UsageCounts)]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.backend != DbBackend::Postgres {
            return self.add_on_sqlite(rows).await;
        }
        let counts: Vec<serde_json::Value> = rows
            .iter()
            .map(|(key, counts)| {
                json!({
                    "tenant_id": key.tenant_id.as_uuid(),
                    "day": key.day.to_string(),
                    "principal_kind": key.principal.kind(),
                    "principal_id": key.principal.id(),
                    "api_calls": counts.api_calls,
                    "errors": counts.errors,
                    "refused": counts.refused,
                })
            })
            .collect();
        let mut params = Params::new(self.backend);
        let sql = format!(
            "SELECT usage_add({})",
            params.bind(serde_json::Value::Array(counts), "jsonb")
        );
        self.txn.execute_raw(params.statement(sql)).await.map_err(db_failure)?;
        Ok(())
    }

    async fn month_calls(&self, tenants: &[TenantId], month: NaiveDate) -> StoreResult<Vec<(TenantId, u64)>> {
        let mut totals = Vec::new();
        let chunk_size = if self.backend == DbBackend::Postgres {
            tenants.len().max(1)
        } else {
            SQLITE_CHUNK
        };
        for chunk in tenants.chunks(chunk_size) {
            let mut params = Params::new(self.backend);
            let sql = if self.backend == DbBackend::Postgres {
                let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                format!(
                    "SELECT tenant_id, calls FROM usage_month_calls(string_to_array({}, ',')::uuid[], {})",
                    params.bind(ids.join(","), "text"),
                    params.day(month)
                )
            } else {
                let month = params.day(month);
                let ids: Vec<String> = chunk.iter().map(|id| params.bind(id.as_uuid(), "")).collect();
                format!(
                    "SELECT tenant_id, api_calls AS calls FROM usage_tenant_monthly \
                     WHERE month = {month} AND tenant_id IN ({})",
                    ids.join(", ")
                )
            };
            let rows = self
                .txn
                .query_all_raw(params.statement(sql))
                .await
                .map_err(db_failure)?;
            for row in rows {
                let tenant: Uuid = row.try_get("", "tenant_id").map_err(db_failure)?;
                totals.push((TenantId::from_uuid(tenant), count(&row, "calls")?));
            }
        }
        Ok(totals)
    }

    async fn series(&self, scope: &TenantScope, buckets: &[Bucket]) -> StoreResult<Vec<UsagePoint>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        // Bound in the order the placeholders appear (SQLite's are positional).
        let mut params = Params::new(self.backend);
        let values = params.buckets(buckets, false);
        let tenant = params.bind(scope.tenant_id().as_uuid(), "");
        let sql = format!(
            "WITH b (start_day, end_day) AS (VALUES {values}) \
             SELECT CAST(coalesce(sum(u.api_calls), 0) AS bigint) AS api_calls, \
             CAST(coalesce(sum(CASE WHEN u.principal_kind = 'api_key' THEN u.api_calls ELSE 0 END), 0) AS bigint) \
             AS api_key_calls, \
             CAST(coalesce(sum(u.errors), 0) AS bigint) AS errors, \
             CAST(coalesce(sum(u.refused), 0) AS bigint) AS refused, \
             count(DISTINCT CASE WHEN u.principal_kind = 'person' THEN u.principal_id END) AS active_users \
             FROM b LEFT JOIN usage_daily AS u \
             ON u.tenant_id = {tenant} AND u.day >= b.start_day AND u.day < b.end_day \
             GROUP BY b.start_day ORDER BY b.start_day"
        );
        let rows = self
            .txn
            .query_all_raw(params.statement(sql))
            .await
            .map_err(db_failure)?;
        buckets
            .iter()
            .zip(rows)
            .map(|(bucket, row)| {
                Ok(UsagePoint {
                    bucket: *bucket,
                    api_calls: count(&row, "api_calls")?,
                    api_key_calls: count(&row, "api_key_calls")?,
                    errors: count(&row, "errors")?,
                    refused: count(&row, "refused")?,
                    active_users: count(&row, "active_users")?,
                })
            })
            .collect()
    }

    async fn top_api_keys(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
        limit: u64,
    ) -> StoreResult<Vec<(ApiKeyId, u64)>> {
        let mut params = Params::new(self.backend);
        let sql = format!(
            "SELECT principal_id, CAST(sum(api_calls) AS bigint) AS calls FROM usage_daily \
             WHERE tenant_id = {} AND principal_kind = 'api_key' AND day >= {} AND day < {} \
             GROUP BY principal_id HAVING sum(api_calls) > 0 \
             ORDER BY calls DESC, principal_id LIMIT {}",
            params.bind(scope.tenant_id().as_uuid(), ""),
            params.day(from),
            params.day(to),
            params.bind(signed(limit), "")
        );
        let rows = self
            .txn
            .query_all_raw(params.statement(sql))
            .await
            .map_err(db_failure)?;
        rows.iter()
            .map(|row| {
                let id: Uuid = row.try_get("", "principal_id").map_err(db_failure)?;
                Ok((ApiKeyId::from_uuid(id), count(row, "calls")?))
            })
            .collect()
    }

    async fn member_tallies(&self, scope: &TenantScope) -> StoreResult<Vec<(RoleId, String, String, u64)>> {
        let mut params = Params::new(self.backend);
        let sql = format!(
            "SELECT m.role_id, r.name, m.status, count(*) AS members FROM memberships AS m \
             JOIN roles AS r ON r.tenant_id = m.tenant_id AND r.id = m.role_id \
             WHERE m.tenant_id = {} GROUP BY m.role_id, r.name, m.status ORDER BY r.name, m.status",
            params.bind(scope.tenant_id().as_uuid(), "")
        );
        let rows = self.rows(params, sql).await?;
        rows.iter()
            .map(|row| {
                let role: Uuid = row.try_get("", "role_id").map_err(db_failure)?;
                Ok((
                    RoleId::from_uuid(role),
                    row.try_get("", "name").map_err(db_failure)?,
                    row.try_get("", "status").map_err(db_failure)?,
                    count(row, "members")?,
                ))
            })
            .collect()
    }

    async fn invitation_tallies(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<(String, u64)>> {
        let mut params = Params::new(self.backend);
        let sql = format!(
            "SELECT status, count(*) AS invitations FROM invitations \
             WHERE tenant_id = {} AND created_at >= {} AND created_at < {} GROUP BY status ORDER BY status",
            params.bind(scope.tenant_id().as_uuid(), ""),
            params.midnight(from),
            params.midnight(to)
        );
        let rows = self.rows(params, sql).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("", "status").map_err(db_failure)?,
                    count(row, "invitations")?,
                ))
            })
            .collect()
    }

    async fn tenant_tallies(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let sql = "SELECT plan, status, count(*) AS tenants FROM tenants GROUP BY plan, status ORDER BY plan, status";
        let rows = self.rows(Params::new(self.backend), sql.to_owned()).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("", "plan").map_err(db_failure)?,
                    row.try_get("", "status").map_err(db_failure)?,
                    count(row, "tenants")?,
                ))
            })
            .collect()
    }

    async fn sign_ups(&self, buckets: &[Bucket]) -> StoreResult<Vec<(u64, u64)>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::new(self.backend);
        let values = params.buckets(buckets, true);
        let sql = format!(
            "WITH b (start_at, end_at) AS (VALUES {values}) \
             SELECT (SELECT count(*) FROM users AS u WHERE u.created_at >= b.start_at AND u.created_at < b.end_at) \
             AS sign_ups, \
             (SELECT count(*) FROM onboarding_progress AS o \
              WHERE o.completed_at >= b.start_at AND o.completed_at < b.end_at) AS activations \
             FROM b ORDER BY b.start_at"
        );
        let rows = self.rows(params, sql).await?;
        rows.iter()
            .map(|row| Ok((count(row, "sign_ups")?, count(row, "activations")?)))
            .collect()
    }

    async fn tenant_activity(
        &self,
        window: &ActivityWindow,
        monthly_limits: &[(String, u64)],
        ranked: u64,
        candidates: u64,
    ) -> StoreResult<TenantActivity> {
        self.activity_of_every_tenant(window, monthly_limits, ranked, candidates)
            .await
    }
}
