//! Metering: every authenticated request is counted in this process's memory, per
//! tenant, principal and day, and a background worker adds the counts to the daily
//! rollups in the database every few seconds ([`Application::flush_usage`]), in one
//! statement, so a request never waits on the database for it. Rollups are additive:
//! replicas each add what they counted, and nothing is counted twice. A crash loses
//! what was counted since the last flush (one flush interval).
//!
//! The monthly API-call quota is checked against what the rollups held at this
//! replica's last flush plus what this replica counted since. Another replica's
//! calls are seen once it has flushed them and this replica has flushed after that:
//! a tenant may overshoot its quota by what the other replicas serve in about two
//! flush intervals, never more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDate;
use tessera_domain::usage::first_of_month;
use tessera_domain::{
    Allowance, ApiKeyId, Granularity, Limit, Permission, Principal, RangeError, Refusal, TenantId, UsageCounts,
    UsageKey, UsagePoint,
};

use crate::context::Actor;
use crate::{AppError, Application, FieldErrors, RequestContext};

/// Whether requests are metered, how often the counts are flushed, and how many of the
/// busiest tenants the metrics name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteringSettings {
    pub enabled: bool,
    pub flush_interval: Duration,
    pub top_tenants: usize,
}

impl Default for MeteringSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_interval: Duration::from_secs(5),
            top_tenants: 20,
        }
    }
}

/// The requests that ran in the last flush interval: the busiest tenants by name, the
/// rest together (what `/metrics` shows, so its series stay bounded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantTraffic {
    pub busiest: Vec<(TenantId, u64)>,
    pub others: u64,
}

impl TenantTraffic {
    /// The window of `rows`: calls per tenant, the `top` busiest named.
    fn of(rows: &[(UsageKey, UsageCounts)], top: usize) -> Self {
        let mut calls: HashMap<TenantId, u64> = HashMap::new();
        for (key, counts) in rows {
            *calls.entry(key.tenant_id).or_default() += counts.api_calls;
        }
        let mut ranked: Vec<(TenantId, u64)> = calls.into_iter().filter(|(_, n)| *n > 0).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let others = ranked.iter().skip(top).map(|(_, n)| n).sum();
        ranked.truncate(top);
        Self {
            busiest: ranked,
            others,
        }
    }
}

/// An API key's request refused because its tenant's plan's API calls for the month
/// are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallsSpent {
    pub limit: u64,
    pub used: u64,
}

/// How a metered request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metered {
    /// It ran; `failed` when its answer carried errors.
    Ran { failed: bool },
    /// A rate limit or the monthly quota refused it.
    Refused,
}

/// A tenant's API calls this month, as far as this replica knows.
#[derive(Debug, Clone, Copy)]
struct MonthCalls {
    month: NaiveDate,
    /// In the rollups at the last flush.
    flushed: u64,
    /// Counted here since, not flushed yet.
    local: u64,
    /// The tenant's monthly quota when it last made a request here.
    limit: Option<u64>,
}

impl MonthCalls {
    fn new(month: NaiveDate) -> Self {
        Self {
            month,
            flushed: 0,
            local: 0,
            limit: None,
        }
    }

    /// Half its quota or more: its total is refreshed at every flush, even when this
    /// replica served it nothing since (other replicas may have).
    fn near_limit(&self) -> bool {
        self.limit
            .is_some_and(|limit| (self.flushed + self.local).saturating_mul(2) >= limit)
    }
}

/// The counts of this process not yet in the database.
#[derive(Debug, Default)]
pub struct Meter {
    state: Mutex<MeterState>,
}

#[derive(Debug, Default)]
struct MeterState {
    pending: HashMap<UsageKey, UsageCounts>,
    months: HashMap<TenantId, MonthCalls>,
    /// The last flush interval's traffic.
    window: TenantTraffic,
}

impl Meter {
    fn lock(&self) -> std::sync::MutexGuard<'_, MeterState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, key: UsageKey, counts: UsageCounts, limit: Option<u64>) {
        let mut state = self.lock();
        state.pending.entry(key).or_default().add(counts);
        let month = first_of_month(key.day);
        let calls = state
            .months
            .entry(key.tenant_id)
            .or_insert_with(|| MonthCalls::new(month));
        if calls.month != month {
            *calls = MonthCalls::new(month);
        }
        calls.local += counts.api_calls;
        calls.limit = limit;
    }

    /// The tenants whose monthly totals a flush reads again: those it writes counts
    /// for, and those near their quota.
    fn to_refresh(&self, rows: &[(UsageKey, UsageCounts)], month: NaiveDate) -> Vec<TenantId> {
        let state = self.lock();
        let mut tenants: Vec<TenantId> = rows.iter().map(|(key, _)| key.tenant_id).collect();
        tenants.extend(
            state
                .months
                .iter()
                .filter(|(_, calls)| calls.month == month && calls.near_limit())
                .map(|(tenant, _)| *tenant),
        );
        tenants.sort();
        tenants.dedup();
        tenants
    }

    fn calls_this_month(&self, tenant_id: TenantId, month: NaiveDate) -> u64 {
        self.lock()
            .months
            .get(&tenant_id)
            .filter(|calls| calls.month == month)
            .map_or(0, |calls| calls.flushed + calls.local)
    }

    /// Everything counted since the last flush; it becomes the traffic window.
    fn take(&self, top_tenants: usize) -> Vec<(UsageKey, UsageCounts)> {
        let mut state = self.lock();
        let mut rows: Vec<_> = state.pending.drain().collect();
        rows.sort_by_key(|(key, _)| *key);
        state.window = TenantTraffic::of(&rows, top_tenants);
        rows
    }

    /// Puts back counts whose flush failed: the next flush tries them again.
    fn restore(&self, rows: Vec<(UsageKey, UsageCounts)>) {
        let mut state = self.lock();
        for (key, counts) in rows {
            state.pending.entry(key).or_default().add(counts);
        }
    }

    /// After a flush of `rows`: what the rollups now hold for this month replaces what
    /// this replica had counted locally.
    fn settle(&self, rows: &[(UsageKey, UsageCounts)], totals: &[(TenantId, u64)], month: NaiveDate) {
        let mut state = self.lock();
        for (key, counts) in rows {
            if let Some(calls) = state.months.get_mut(&key.tenant_id)
                && calls.month == month
                && first_of_month(key.day) == month
            {
                calls.local = calls.local.saturating_sub(counts.api_calls);
            }
        }
        for &(tenant_id, total) in totals {
            let calls = state.months.entry(tenant_id).or_insert_with(|| MonthCalls::new(month));
            if calls.month != month {
                *calls = MonthCalls::new(month);
            }
            calls.flushed = total;
        }
    }
}

impl Application {
    /// Replaces the default metering settings.
    pub fn with_metering(mut self, settings: MeteringSettings) -> Self {
        self.metering = settings;
        self
    }

    pub fn metering(&self) -> MeteringSettings {
        self.metering
    }

    /// The requests that ran in the last flush interval, busiest tenants first.
    pub fn tenant_traffic(&self) -> TenantTraffic {
        self.meter.lock().window.clone()
    }

    /// Counts one request of a member or API key, in memory.
    pub fn meter(&self, ctx: &RequestContext, outcome: Metered) {
        if !self.metering.enabled {
            return;
        }
        let principal = match ctx.actor() {
            Actor::User(id) => Principal::Person(id),
            Actor::ApiKey(id) => Principal::ApiKey(id),
        };
        let key = UsageKey {
            tenant_id: ctx.tenant_id(),
            day: self.ports.clock.now().date_naive(),
            principal,
        };
        let counts = match outcome {
            Metered::Ran { failed } => UsageCounts {
                api_calls: 1,
                errors: u64::from(failed),
                refused: 0,
            },
            Metered::Refused => UsageCounts {
                refused: 1,
                ..UsageCounts::default()
            },
        };
        let limit = ctx.limits().api_calls_per_month.as_number();
        self.meter.record(key, counts, limit);
    }

    /// The monthly API-call quota of the caller's plan, when this month's calls have
    /// spent it.
    pub fn monthly_calls_refusal(&self, ctx: &RequestContext) -> Option<Refusal> {
        let Allowance::AtMost(limit) = ctx.limits().api_calls_per_month else {
            return None;
        };
        if !self.metering.enabled {
            return None;
        }
        let month = first_of_month(self.ports.clock.now().date_naive());
        let used = self.meter.calls_this_month(ctx.tenant_id(), month);
        (used >= limit).then_some(Refusal::QuotaExceeded {
            quota: Limit::ApiCallsPerMonth,
            limit,
            used,
        })
    }

    /// The caller as the monthly API-call quota leaves it: unchanged while calls remain;
    /// once they are spent, an API key is refused (and the refusal metered), and a
    /// person goes on held to what lets them see the tenant's plan and usage and change
    /// the plan ([`crate::Standing::CallsSpent`]).
    pub fn hold_to_monthly_calls(&self, ctx: RequestContext) -> Result<RequestContext, CallsSpent> {
        let Some(Refusal::QuotaExceeded { limit, used, .. }) = self.monthly_calls_refusal(&ctx) else {
            return Ok(ctx);
        };
        if ctx.person().is_none() {
            self.meter(&ctx, Metered::Refused);
            return Err(CallsSpent { limit, used });
        }
        Ok(ctx.with_calls_spent(limit, used))
    }

    /// Adds what this process counted to the daily rollups, and learns what the
    /// rollups hold this month for the tenants it counted and for those near their
    /// quota (two statements). Returns how many rollup rows were written. On failure
    /// the counts are kept for the next try.
    pub async fn flush_usage(&self) -> Result<usize, AppError> {
        let rows = self.meter.take(self.metering.top_tenants);
        let month = first_of_month(self.ports.clock.now().date_naive());
        let tenants = self.meter.to_refresh(&rows, month);
        if tenants.is_empty() {
            return Ok(0);
        }
        let written = async {
            let tx = self.ports.store.begin().await?;
            tx.usage().add(&rows).await?;
            let totals = tx.usage().month_calls(&tenants, month).await?;
            tx.commit().await?;
            Ok::<_, crate::ports::StoreError>(totals)
        }
        .await;
        match written {
            Ok(totals) => {
                self.meter.settle(&rows, &totals, month);
                Ok(rows.len())
            }
            Err(error) => {
                self.meter.restore(rows);
                Err(error.into())
            }
        }
    }

    /// The caller's tenant's usage from `from` to `to` (days, both included), one point
    /// per bucket. Needs `analytics:read`.
    pub async fn usage_report(
        &self,
        ctx: &RequestContext,
        from: NaiveDate,
        to: NaiveDate,
        granularity: Granularity,
    ) -> Result<Vec<UsagePoint>, AppError> {
        let granted = ctx.authorize(Permission::AnalyticsRead)?;
        let scope = granted.scope();
        let buckets = granularity.buckets(from, to).map_err(range_error)?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.usage().series(scope, &buckets).await?)
    }

    /// The caller's tenant's API keys with the most calls from `from` to `to` (both
    /// included). Needs `analytics:read`.
    pub async fn top_api_keys(
        &self,
        ctx: &RequestContext,
        from: NaiveDate,
        to: NaiveDate,
        first: u64,
    ) -> Result<Vec<(ApiKeyId, u64)>, AppError> {
        let granted = ctx.authorize(Permission::AnalyticsRead)?;
        let scope = granted.scope();
        let buckets = Granularity::Day.buckets(from, to).map_err(range_error)?;
        let end = buckets.last().map_or(to, |bucket| bucket.end);
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.usage().top_api_keys(scope, from, end, first.clamp(1, 100)).await?)
    }
}

impl Application {
    /// The caller's tenant's members by role and status: `(role, role name, status,
    /// members)`. Needs `analytics:read`.
    pub async fn member_tallies(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<(tessera_domain::RoleId, String, String, u64)>, AppError> {
        let granted = ctx.authorize(Permission::AnalyticsRead)?;
        let scope = granted.scope();
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.usage().member_tallies(scope).await?)
    }

    /// The caller's tenant's invitations sent from `from` to `to` (both included), by
    /// their status now. Needs `analytics:read`.
    pub async fn invitation_tallies(
        &self,
        ctx: &RequestContext,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, u64)>, AppError> {
        let granted = ctx.authorize(Permission::AnalyticsRead)?;
        let scope = granted.scope();
        let buckets = Granularity::Day.buckets(from, to).map_err(range_error)?;
        let end = buckets.last().map_or(to, |bucket| bucket.end);
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.usage().invitation_tallies(scope, from, end).await?)
    }
}

pub(crate) fn range_error(error: RangeError) -> AppError {
    let field = match error {
        RangeError::Reversed => "to",
        RangeError::TooLong => "from",
    };
    AppError::Validation(FieldErrors::single(field, error.to_string()))
}

mod platform;
pub use platform::{PlatformAnalytics, QuotaStanding};

#[cfg(test)]
mod tests;
