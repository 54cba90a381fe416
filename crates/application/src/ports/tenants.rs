//! Tenants, their settings, their custom domains and how a domain's control is proven.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use tessera_domain::{CustomDomain, DomainName, Limit, Slug, Tenant, TenantId, TenantSettings, UserId};

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

/// Tenants themselves (the table of tenants is not tenant-scoped).
#[async_trait]
pub trait TenantRepository: Send + Sync {
    async fn insert(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn find_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Tenant>>;
    /// Those of these tenants, not deleted, where the user holds an active membership (needs
    /// [`Transaction::enter_user`]), in one statement.
    async fn find_joined_by(&self, user_id: UserId, ids: &[TenantId]) -> StoreResult<Vec<Tenant>>;
    /// Every tenant (platform administration), keyset-paged; `search` matches slug or name.
    async fn list_all(&self, search: Option<&str>, page: &PageRequest) -> StoreResult<Page<Tenant>>;
    async fn count_all(&self, search: Option<&str>) -> StoreResult<u64>;
    /// Saves status (with its reason and scheduled deletion) and `updated_at`, only while
    /// the stored status is still `expected`: `Stale` when another change came first (a
    /// cancelled deletion is never purged, a deletion never lost to a suspension),
    /// `NotFound` when there is no such tenant.
    async fn update_status(&self, tenant: &Tenant, expected: tessera_domain::TenantStatus) -> StoreResult<()>;
    /// Tenants whose purge may run at `now`: pending deletion past their grace period,
    /// or already marked deleted with rows left (a purge that stopped midway).
    async fn due_for_purge(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Tenant>>;
    /// Removes the tenant's own row (once its purge left nothing that refers to it).
    async fn delete(&self, id: TenantId) -> StoreResult<()>;
    /// Saves name, slug and `updated_at`; `Duplicate("slug")` when the slug is taken.
    async fn update_profile(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Saves plan, plan overrides and `updated_at`; `NotFound` when there is no such tenant.
    async fn update_plan(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Saves whether a second factor is required, and `updated_at`; `NotFound` when
    /// there is no such tenant.
    async fn update_security(&self, tenant: &Tenant) -> StoreResult<()>;
    /// In one statement: the scope's tenant with how many of `quota`'s things it holds
    /// at `now` (in a transaction entered with
    /// [`Transaction::enter_tenant_exclusively`](super::Transaction::enter_tenant_exclusively),
    /// the count sees every creation committed before). `NotFound` without the tenant.
    async fn quota_use(&self, scope: &TenantScope, quota: Limit, now: DateTime<Utc>) -> StoreResult<(Tenant, u64)>;
    /// In one statement: the scope's tenant and how much of every quota it holds at `now`.
    async fn usage(&self, scope: &TenantScope, now: DateTime<Utc>) -> StoreResult<(Tenant, BTreeMap<Limit, u64>)>;
}

#[async_trait]
pub trait TenantSettingsRepository: Send + Sync {
    async fn find(&self, scope: &TenantScope) -> StoreResult<Option<TenantSettings>>;
    /// Stores `settings`, writing only the fields that differ from `previous` (what the
    /// change was based on) and `updated_at`: two people changing different settings
    /// at once both keep their change. Creates the row on the first save.
    async fn upsert(
        &self,
        scope: &TenantScope,
        previous: &TenantSettings,
        settings: &TenantSettings,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait CustomDomainRepository: Send + Sync {
    /// The tenant's domains, oldest first (a handful at most: the use cases cap them).
    async fn list(&self, scope: &TenantScope) -> StoreResult<Vec<CustomDomain>>;
    async fn find(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<Option<CustomDomain>>;
    /// `Duplicate("domain")` when the tenant already claims the name.
    async fn insert(&self, scope: &TenantScope, domain: &CustomDomain) -> StoreResult<()>;
    /// `Duplicate("domain")` when another tenant holds the name verified; `NotFound` without the claim.
    async fn mark_verified(&self, scope: &TenantScope, domain: &DomainName, at: DateTime<Utc>) -> StoreResult<()>;
    /// `NotFound` without the claim.
    async fn delete(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<()>;
    /// The tenant holding this name verified, whoever asks (requests name tenants by host).
    async fn find_verified_owner(&self, domain: &DomainName) -> StoreResult<Option<TenantId>>;
}

/// Checks that whoever controls a host name serves a token there (proof of control).
#[async_trait]
pub trait DomainVerifier: Send + Sync {
    /// `Ok(())` when `domain` serves `token`; otherwise a reason for the tenant's admin.
    async fn verify(&self, domain: &DomainName, token: &str) -> Result<(), String>;
}
