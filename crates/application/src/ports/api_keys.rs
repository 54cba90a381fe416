//! A tenant's API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{ApiKey, ApiKeyId, PermissionSet, RoleId, UserId};

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<ApiKey>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Revokes the key at `at`; `false` when it was already revoked. Touches nothing else.
    async fn revoke(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Notes the key's use at `at`, and nothing else (a revocation committed meanwhile stands).
    async fn record_use(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Narrows a live key's permissions from `from` to `to`; `false` when the key was
    /// revoked or its permissions changed meanwhile.
    async fn restrict(
        &self,
        scope: &TenantScope,
        id: ApiKeyId,
        from: &PermissionSet,
        to: &PermissionSet,
    ) -> StoreResult<bool>;
    /// The keys not yet revoked that these people created, oldest first.
    async fn live_created_by(&self, scope: &TenantScope, creators: &KeyCreators) -> StoreResult<Vec<ApiKey>>;
}

/// Whose API keys: one person's, or those of everyone whose tenant membership (not
/// removed) holds a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreators {
    Person(UserId),
    HoldersOf(RoleId),
}
