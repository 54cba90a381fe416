//! The platform's view of its tenants, for platform administrators: how many are on
//! each plan and in each status, sign-ups and activations per day, how many are
//! active, the busiest ones and those with the most errors, and those near or over
//! their monthly API-call quota. A constant number of statements, however many tenants.

use chrono::{Days, NaiveDate};
use tessera_domain::usage::first_of_month;
use tessera_domain::{Bucket, Granularity, Limit, Tenant};

use super::range_error;
use crate::platform::PlatformScope;
use crate::ports::{ActivityWindow, TenantCalls};
use crate::{AppError, Application};

/// Named tenants in each ranking.
const RANKED: u64 = 10;
/// A tenant is near its quota from this share of it on (percent).
const NEAR_QUOTA_PERCENT: u64 = 80;
/// Tenants near their quota listed at most, the fullest first.
const NEAR_QUOTA_LISTED: u64 = 50;

/// A tenant's use of a quota it is near or over.
#[derive(Debug, Clone)]
pub struct QuotaStanding {
    pub tenant: Tenant,
    pub quota: Limit,
    pub used: u64,
    pub limit: u64,
}

impl QuotaStanding {
    pub fn over(&self) -> bool {
        self.used >= self.limit
    }
}

#[derive(Debug, Clone)]
pub struct PlatformAnalytics {
    /// `(plan, tenants)`, by plan key.
    pub tenants_by_plan: Vec<(String, u64)>,
    /// `(status, tenants)`, by status.
    pub tenants_by_status: Vec<(String, u64)>,
    /// Per day of the range: people who signed up, people who finished onboarding.
    pub sign_ups: Vec<(Bucket, u64, u64)>,
    pub active_last_7_days: u64,
    pub active_last_30_days: u64,
    /// This month (UTC), most first.
    pub busiest: Vec<TenantCalls>,
    pub most_errors: Vec<TenantCalls>,
    /// This month's API calls against each tenant's plan, the fullest first (50 at
    /// most).
    pub near_quota: Vec<QuotaStanding>,
}

impl Application {
    /// The platform's analytics for the days `from` to `to` (both included, at most
    /// 400); activity and quotas are as of today. Four statements (one pass over the
    /// rollups), three of them at once.
    pub async fn platform_analytics(
        &self,
        _scope: &PlatformScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PlatformAnalytics, AppError> {
        let buckets = Granularity::Day.buckets(from, to).map_err(range_error)?;
        let today = self.ports.clock.now().date_naive();
        let tomorrow = today + Days::new(1);
        let window = ActivityWindow {
            since: today - Days::new(29),
            recent: today - Days::new(6),
            until: tomorrow,
            month: first_of_month(today),
            near_percent: NEAR_QUOTA_PERCENT,
        };
        let monthly_limits: Vec<(String, u64)> = self
            .plan_catalogue()
            .plans()
            .iter()
            .filter_map(|plan| {
                Some((
                    plan.key.to_string(),
                    plan.allowance(Limit::ApiCallsPerMonth).as_number()?,
                ))
            })
            .collect();
        // Three independent reads, each in a transaction of its own, at once: the answer
        // takes as long as the slowest, not the sum.
        let store = &self.ports.store;
        let (tallies, sign_ups, activity) = futures_util::future::try_join3(
            async { store.begin().await?.usage().tenant_tallies().await },
            async { store.begin().await?.usage().sign_ups(&buckets).await },
            async {
                store
                    .begin()
                    .await?
                    .usage()
                    .tenant_activity(&window, &monthly_limits, RANKED, NEAR_QUOTA_LISTED)
                    .await
            },
        )
        .await?;

        let mut tenants_by_plan: Vec<(String, u64)> = Vec::new();
        let mut tenants_by_status: Vec<(String, u64)> = Vec::new();
        for (plan, status, count) in tallies {
            add_to(&mut tenants_by_plan, plan, count);
            add_to(&mut tenants_by_status, status, count);
        }
        let now = self.ports.clock.now();
        let mut near_quota: Vec<QuotaStanding> = activity
            .month_calls
            .into_iter()
            .filter_map(|(tenant, used)| {
                let limit = self
                    .entitlements_of(&tenant, now)
                    .allowance(Limit::ApiCallsPerMonth)
                    .as_number()?;
                (used.saturating_mul(100) >= limit.saturating_mul(NEAR_QUOTA_PERCENT)).then_some(QuotaStanding {
                    tenant,
                    quota: Limit::ApiCallsPerMonth,
                    used,
                    limit,
                })
            })
            .collect();
        near_quota.sort_by(|a, b| {
            let share = |s: &QuotaStanding| s.used as f64 / s.limit.max(1) as f64;
            share(b).total_cmp(&share(a)).then(a.tenant.id.cmp(&b.tenant.id))
        });
        near_quota.truncate(NEAR_QUOTA_LISTED as usize);
        Ok(PlatformAnalytics {
            tenants_by_plan,
            tenants_by_status,
            sign_ups: buckets
                .into_iter()
                .zip(sign_ups)
                .map(|(bucket, (people, activated))| (bucket, people, activated))
                .collect(),
            active_last_7_days: activity.active_recently,
            active_last_30_days: activity.active_since,
            busiest: activity.busiest,
            most_errors: activity.most_errors,
            near_quota,
        })
    }
}

fn add_to(tally: &mut Vec<(String, u64)>, key: String, count: u64) {
    match tally.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += count,
        None => {
            tally.push((key, count));
            tally.sort();
        }
    }
}
