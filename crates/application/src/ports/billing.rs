//! The billing provider's events a tenant has received (replays and late arrivals are
//! recognised by them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::TenantId;

use super::StoreResult;
use crate::TenantScope;

/// One received event: whether it changed anything, and when the provider says it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEventRecord {
    pub tenant_id: TenantId,
    /// The provider's event id.
    pub id: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub applied: bool,
}

#[async_trait]
pub trait BillingEventRepository: Send + Sync {
    /// Whether the tenant has received the event `id` already.
    async fn seen(&self, scope: &TenantScope, id: &str) -> StoreResult<bool>;
    /// `Duplicate("id")` when the event was recorded meanwhile.
    async fn record(&self, scope: &TenantScope, record: &BillingEventRecord) -> StoreResult<()>;
    /// When the newest event that changed the tenant happened.
    async fn latest_applied(&self, scope: &TenantScope) -> StoreResult<Option<DateTime<Utc>>>;
}
