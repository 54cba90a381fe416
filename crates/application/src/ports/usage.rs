//! The daily usage rollups the meter adds to, and the reports read from them.

use async_trait::async_trait;
use chrono::NaiveDate;
use tessera_domain::{ApiKeyId, Bucket, RoleId, Tenant, TenantId, UsageCounts, UsageKey, UsagePoint};

use super::StoreResult;
use crate::TenantScope;

/// One tenant's calls and errors over a range of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCalls {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub calls: u64,
    pub errors: u64,
}

/// The days [`UsageRepository::tenant_activity`] looks at (each range from a day up to,
/// not including, another). The rankings cover this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityWindow {
    /// Active since (30 days) and recently (7 days), up to `until` (tomorrow).
    pub since: NaiveDate,
    pub recent: NaiveDate,
    pub until: NaiveDate,
    /// The first day of this month, for the monthly quota.
    pub month: NaiveDate,
    /// A tenant is near its quota from this share of it on (percent).
    pub near_percent: u64,
}

/// What [`UsageRepository::tenant_activity`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantActivity {
    pub active_since: u64,
    pub active_recently: u64,
    pub busiest: Vec<TenantCalls>,
    pub most_errors: Vec<TenantCalls>,
    /// Candidates near their monthly quota, with this month's calls.
    pub month_calls: Vec<(Tenant, u64)>,
}

#[async_trait]
pub trait UsageRepository: Send + Sync {
    /// Adds each row's counts to its rollup row (created at zero when missing), across
    /// tenants, in one statement: the meter's flush. Rows of a tenant that no longer
    /// exists are dropped.
    async fn add(&self, rows: &[(UsageKey, UsageCounts)]) -> StoreResult<()>;
    /// Each tenant's API calls in the month that starts on `month` (tenants without any
    /// are left out), across tenants, in one statement: what the monthly quota is
    /// checked against.
    async fn month_calls(&self, tenants: &[TenantId], month: NaiveDate) -> StoreResult<Vec<(TenantId, u64)>>;
    /// The scope's usage in each bucket (buckets without any usage answer zeros), in one
    /// statement whatever the number of buckets.
    async fn series(&self, scope: &TenantScope, buckets: &[Bucket]) -> StoreResult<Vec<UsagePoint>>;
    /// The scope's API keys with the most calls from `from` up to, not including, `to`,
    /// most first.
    async fn top_api_keys(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
        limit: u64,
    ) -> StoreResult<Vec<(ApiKeyId, u64)>>;

    /// The scope's members by role and status: `(role, role name, status, members)`.
    async fn member_tallies(&self, scope: &TenantScope) -> StoreResult<Vec<(RoleId, String, String, u64)>>;
    /// The scope's invitations sent from `from` up to, not including, `to`: how many
    /// by their status now (`pending`, `accepted`, `revoked`).
    async fn invitation_tallies(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<(String, u64)>>;

    // Across every tenant, for platform administrators (each one statement).

    /// How many tenants there are by plan and status: `(plan, status, count)`.
    async fn tenant_tallies(&self) -> StoreResult<Vec<(String, String, u64)>>;
    /// For each bucket: people who signed up, and people who finished onboarding.
    async fn sign_ups(&self, buckets: &[Bucket]) -> StoreResult<Vec<(u64, u64)>>;
    /// Every tenant's activity, in one pass over the monthly rollups (see
    /// [`ActivityWindow`]): how many were active, the busiest and the most failing this
    /// month (`ranked` each), and the tenants this month near their monthly quota
    /// (`candidates` at most, the fullest first; tenants with overrides are always
    /// candidates, the caller decides with their entitlements). `monthly_limits` is each
    /// plan's finite monthly quota.
    async fn tenant_activity(
        &self,
        window: &ActivityWindow,
        monthly_limits: &[(String, u64)],
        ranked: u64,
        candidates: u64,
    ) -> StoreResult<TenantActivity>;
}
