//! The outbox of domain events, and the bus that announces them to live subscribers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::TenantId;
use uuid::Uuid;

use super::StoreResult;
use crate::TenantScope;

/// A domain event, recorded in the same transaction as the change it reports, for
/// delivery after commit (webhooks, live subscriptions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// `workspace.renamed`, … (see [`tessera_domain::EVENT_CATALOGUE`]).
    pub event_type: String,
    /// The JSON document webhooks receive and subscriptions stream.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Not before this (after a failed attempt); `None` means at once.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait OutboxRepository: Send + Sync {
    async fn record(&self, scope: &TenantScope, event: &OutboxEvent) -> StoreResult<()>;
    /// Oldest first, at most `limit` (for delivery and for tests).
    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<OutboxEvent>>;
    /// Tenants with undelivered events that are due: the only outbox read that is not
    /// inside one tenant (it returns ids only; on Postgres through a function that
    /// reveals nothing else).
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>>;
    /// Takes the tenant's queue for this transaction: `None` when another worker holds
    /// it (Postgres: an advisory lock per tenant, tried without waiting, so a busy
    /// tenant is skipped), else its oldest undelivered events, locked `FOR UPDATE`, so
    /// each tenant is delivered in order.
    async fn claim(&self, scope: &TenantScope, limit: u64) -> StoreResult<Option<Vec<OutboxEvent>>>;
    async fn mark_delivered(&self, scope: &TenantScope, ids: &[Uuid], at: DateTime<Utc>) -> StoreResult<()>;
    /// Deletes the scope's events handed over before `before`; returns how many.
    async fn prune(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64>;
    /// After a failed attempt: try again at `next_attempt_at`.
    async fn postpone(
        &self,
        scope: &TenantScope,
        id: Uuid,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Where committed domain events are announced to live subscribers: in process, or
/// across replicas (Redis pub/sub).
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, event: &OutboxEvent);
    /// The events of one tenant from now on: an event of another tenant never wakes
    /// this subscription.
    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn EventSubscription>;
}

#[async_trait]
pub trait EventSubscription: Send {
    /// The next event of the subscribed tenant; `None` when the bus is gone.
    async fn next(&mut self) -> Option<OutboxEvent>;
}
