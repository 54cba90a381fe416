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

/// Which tenants come first in [`UsageRepository::busiest_tenants`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busiest {
    ByCalls,
    ByErrors,
}

#[async_trait]
pub trait UsageRepository: Send + Sync {
    /// Adds each row's counts to its rollup row (created at zero when missing), across
    /// tenants, in one statement: the meter's flush. Rows of a tenant that no longer
    /// exists are dropped.
    async fn add(&self, rows: &[(UsageKey, UsageCounts)]) -> StoreResult<()>;
    /// Each tenant's API calls from `since` on (tenants without any are left out), across
    /// tenants, in one statement: what the monthly quota is checked against.
    async fn calls_since(&self, tenants: &[TenantId], since: NaiveDate) -> StoreResult<Vec<(TenantId, u64)>>;
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
    /// Tenants that made calls from `since` up to, not including, `until`, and of those
    /// the ones that made calls from `recent` on.
    async fn active_tenants(&self, since: NaiveDate, recent: NaiveDate, until: NaiveDate) -> StoreResult<(u64, u64)>;
    /// The tenants with the most calls (or errors) from `from` up to, not including,
    /// `to`, most first.
    async fn busiest_tenants(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        order: Busiest,
        limit: u64,
    ) -> StoreResult<Vec<TenantCalls>>;
    /// Every tenant that made calls from `since` up to, not including, `until`, with its
    /// calls (to hold against its plan's monthly quota).
    async fn calls_by_tenant(&self, since: NaiveDate, until: NaiveDate) -> StoreResult<Vec<(Tenant, u64)>>;
}
