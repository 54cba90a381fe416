//! Webhook endpoints and deliveries, and the sender that makes them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    SigningSecrets, TenantId, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId,
};
use uuid::Uuid;

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

/// A tenant's webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn insert_endpoint(
        &self,
        scope: &TenantScope,
        endpoint: &WebhookEndpoint,
        secrets: &SigningSecrets,
    ) -> StoreResult<()>;
    async fn find_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    async fn list_endpoints(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<WebhookEndpoint>>;
    async fn count_endpoints(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Every enabled endpoint of the tenant (a tenant has a bounded number).
    async fn enabled_endpoints(&self, scope: &TenantScope) -> StoreResult<Vec<WebhookEndpoint>>;
    /// Writes url, description, events, enabled, disabled reason and `updated_at` if
    /// the stored endpoint is still as `expected` (same `updated_at` and enabled
    /// flag); `Stale` when another request or the delivery worker changed it meanwhile.
    async fn update_endpoint(
        &self,
        scope: &TenantScope,
        expected: &WebhookEndpoint,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<()>;
    async fn delete_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<()>;
    async fn secrets(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<SigningSecrets>>;
    async fn set_secrets(
        &self,
        scope: &TenantScope,
        id: WebhookEndpointId,
        secrets: &SigningSecrets,
    ) -> StoreResult<()>;
    /// After a delivery ended: a success resets the endpoint's count of deliveries
    /// that gave up in a row, a give-up adds one. Returns the new count.
    async fn note_outcome(&self, scope: &TenantScope, id: WebhookEndpointId, gave_up: bool) -> StoreResult<u32>;

    async fn insert_deliveries(&self, scope: &TenantScope, deliveries: &[WebhookDelivery]) -> StoreResult<()>;
    async fn find_delivery(&self, scope: &TenantScope, id: WebhookDeliveryId) -> StoreResult<Option<WebhookDelivery>>;
    async fn list_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>>;
    async fn count_deliveries(&self, scope: &TenantScope, endpoint: WebhookEndpointId) -> StoreResult<u64>;
    /// Tenants with pending deliveries that are due (ids only, like
    /// [`OutboxRepository::due_tenants`]).
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>>;
    /// Due pending deliveries, oldest first, locked (`FOR UPDATE SKIP LOCKED`) and
    /// leased until `lease_until`: a worker that dies mid-delivery leaves them to be
    /// retried then. Deliveries to the endpoints in `skip` (already busy) are left.
    async fn claim_due(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
        skip: &[WebhookEndpointId],
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Writes status, attempts, schedule, response and completion.
    async fn update_delivery(&self, scope: &TenantScope, delivery: &WebhookDelivery) -> StoreResult<()>;
    /// Deletes the scope's deliveries that ended (succeeded or failed) before `before`.
    async fn prune_deliveries(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Marks the endpoint's pending deliveries failed (it was disabled).
    async fn fail_pending(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// One signed HTTP delivery about to be sent.
#[derive(Debug, Clone)]
pub struct OutgoingWebhook {
    pub url: String,
    pub delivery_id: WebhookDeliveryId,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    /// Every secret that signs it (the current one, and a rotated one still valid).
    pub secrets: Vec<String>,
    pub sent_at: DateTime<Utc>,
}

/// How the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Why it failed (no answer, timeout, refused address, non-2xx).
    pub error: Option<String>,
}

impl WebhookOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, webhook: &OutgoingWebhook) -> WebhookOutcome;
}
