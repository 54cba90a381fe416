//! The outbox, webhooks, the event bus, the webhook sender and the audit trail in memory.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::TenantId;
use uuid::Uuid;

use crate::ports::{StoreError, StoreResult};
use crate::{Page, PageRequest, TenantScope};

use super::store::*;

#[async_trait]
impl crate::ports::OutboxRepository for FakeTransaction {
    async fn record(&self, scope: &TenantScope, event: &crate::ports::OutboxEvent) -> StoreResult<()> {
        owned(scope, event.tenant_id)?;
        self.state().outbox.push(event.clone());
        Ok(())
    }
    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<crate::ports::OutboxEvent>> {
        let state = self.state();
        Ok(state
            .outbox
            .iter()
            .filter(|e| in_scope(scope, e.tenant_id) && !state.delivered.iter().any(|(id, _)| *id == e.id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        let state = self.state();
        let mut tenants: Vec<TenantId> = state
            .outbox
            .iter()
            .filter(|e| {
                !state.delivered.iter().any(|(id, _)| *id == e.id) && e.next_attempt_at.is_none_or(|at| at <= now)
            })
            .map(|e| e.tenant_id)
            .collect();
        tenants.dedup();
        tenants.truncate(limit as usize);
        Ok(tenants)
    }
    async fn claim(&self, scope: &TenantScope, limit: u64) -> StoreResult<Option<Vec<crate::ports::OutboxEvent>>> {
        self.pending(scope, limit).await.map(Some)
    }
    async fn mark_delivered(&self, scope: &TenantScope, ids: &[Uuid], at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        // Like an UPDATE in the scope: another tenant's events are not matched.
        for id in ids {
            if state.outbox.iter().any(|e| e.id == *id && in_scope(scope, e.tenant_id)) {
                state.delivered.push((*id, at));
            }
        }
        Ok(())
    }
    async fn prune(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let old: Vec<Uuid> = state
            .delivered
            .iter()
            .filter(|(_, at)| *at < before)
            .map(|(id, _)| *id)
            .collect();
        let count = state.outbox.len();
        state
            .outbox
            .retain(|e| !(in_scope(scope, e.tenant_id) && old.contains(&e.id)));
        Ok((count - state.outbox.len()) as u64)
    }
    async fn postpone(&self, scope: &TenantScope, id: Uuid, attempts: u32, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let event = state
            .outbox
            .iter_mut()
            .find(|e| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        event.attempts = attempts;
        event.next_attempt_at = Some(at);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::WebhookRepository for FakeTransaction {
    async fn insert_endpoint(
        &self,
        scope: &TenantScope,
        endpoint: &tessera_domain::WebhookEndpoint,
        secrets: &tessera_domain::SigningSecrets,
    ) -> StoreResult<()> {
        owned(scope, endpoint.tenant_id)?;
        self.state().webhook_endpoints.push((endpoint.clone(), secrets.clone()));
        Ok(())
    }
    async fn find_endpoint(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<Option<tessera_domain::WebhookEndpoint>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .map(|(e, _)| e.clone()))
    }
    async fn list_endpoints(
        &self,
        scope: &TenantScope,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::WebhookEndpoint>> {
        let rows: Vec<_> = self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id))
            .map(|(e, _)| e.clone())
            .collect();
        Ok(keyset_page(rows, page, |e| (e.created_at, e.id.as_uuid())))
    }
    async fn count_endpoints(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id))
            .count() as u64)
    }
    async fn enabled_endpoints(&self, scope: &TenantScope) -> StoreResult<Vec<tessera_domain::WebhookEndpoint>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id) && e.enabled)
            .map(|(e, _)| e.clone())
            .collect())
    }
    async fn update_endpoint(
        &self,
        scope: &TenantScope,
        expected: &tessera_domain::WebhookEndpoint,
        endpoint: &tessera_domain::WebhookEndpoint,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let (stored, _) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == endpoint.id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        if (stored.updated_at, stored.enabled) != (expected.updated_at, expected.enabled) {
            return Err(StoreError::Stale);
        }
        let failures = stored.failed_deliveries_in_a_row;
        *stored = endpoint.clone();
        stored.failed_deliveries_in_a_row = failures;
        Ok(())
    }
    async fn delete_endpoint(&self, scope: &TenantScope, id: tessera_domain::WebhookEndpointId) -> StoreResult<()> {
        let mut state = self.state();
        state
            .webhook_endpoints
            .retain(|(e, _)| !(e.id == id && in_scope(scope, e.tenant_id)));
        state.webhook_deliveries.retain(|d| d.endpoint_id != id);
        Ok(())
    }
    async fn secrets(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<Option<tessera_domain::SigningSecrets>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .map(|(_, s)| s.clone()))
    }
    async fn set_secrets(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
        secrets: &tessera_domain::SigningSecrets,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let (_, stored) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        *stored = secrets.clone();
        Ok(())
    }
    async fn note_outcome(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
        gave_up: bool,
    ) -> StoreResult<u32> {
        let mut state = self.state();
        let (stored, _) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        stored.failed_deliveries_in_a_row = if gave_up {
            stored.failed_deliveries_in_a_row + 1
        } else {
            0
        };
        Ok(stored.failed_deliveries_in_a_row)
    }
    async fn insert_deliveries(
        &self,
        scope: &TenantScope,
        deliveries: &[tessera_domain::WebhookDelivery],
    ) -> StoreResult<()> {
        let mut state = self.state();
        for delivery in deliveries {
            owned(scope, delivery.tenant_id)?;
            state.webhook_deliveries.push(delivery.clone());
        }
        Ok(())
    }
    async fn find_delivery(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookDeliveryId,
    ) -> StoreResult<Option<tessera_domain::WebhookDelivery>> {
        Ok(self
            .state()
            .webhook_deliveries
            .iter()
            .find(|d| d.id == id && in_scope(scope, d.tenant_id))
            .cloned())
    }
    async fn list_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::WebhookDelivery>> {
        let rows: Vec<_> = self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint && in_scope(scope, d.tenant_id))
            .cloned()
            .collect();
        Ok(keyset_page(rows, page, |d| (d.created_at, d.id.as_uuid())))
    }
    async fn count_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<u64> {
        Ok(self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint && in_scope(scope, d.tenant_id))
            .count() as u64)
    }
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        let mut tenants: Vec<TenantId> = self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.status == tessera_domain::DeliveryStatus::Pending && d.next_attempt_at <= now)
            .map(|d| d.tenant_id)
            .collect();
        tenants.dedup();
        tenants.truncate(limit as usize);
        Ok(tenants)
    }
    async fn claim_due(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
        skip: &[tessera_domain::WebhookEndpointId],
    ) -> StoreResult<Vec<tessera_domain::WebhookDelivery>> {
        let mut state = self.state();
        let mut claimed = Vec::new();
        let mut due: Vec<&mut tessera_domain::WebhookDelivery> = state
            .webhook_deliveries
            .iter_mut()
            .filter(|d| {
                in_scope(scope, d.tenant_id)
                    && d.status == tessera_domain::DeliveryStatus::Pending
                    && d.next_attempt_at <= now
                    && !skip.contains(&d.endpoint_id)
            })
            .collect();
        due.sort_by_key(|d| d.next_attempt_at);
        for delivery in due {
            if claimed.len() as u64 == limit {
                break;
            }
            claimed.push(delivery.clone());
            delivery.next_attempt_at = lease_until;
        }
        Ok(claimed)
    }
    async fn update_delivery(
        &self,
        scope: &TenantScope,
        delivery: &tessera_domain::WebhookDelivery,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .webhook_deliveries
            .iter_mut()
            .find(|d| d.id == delivery.id && in_scope(scope, d.tenant_id))
            .ok_or(StoreError::NotFound)?;
        *stored = delivery.clone();
        Ok(())
    }
    async fn prune_deliveries(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let count = state.webhook_deliveries.len();
        state
            .webhook_deliveries
            .retain(|d| !(in_scope(scope, d.tenant_id) && d.completed_at.is_some_and(|at| at < before)));
        Ok((count - state.webhook_deliveries.len()) as u64)
    }
    async fn fail_pending(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut failed = 0;
        for delivery in self.state().webhook_deliveries.iter_mut().filter(|d| {
            d.endpoint_id == endpoint
                && in_scope(scope, d.tenant_id)
                && d.status == tessera_domain::DeliveryStatus::Pending
        }) {
            delivery.status = tessera_domain::DeliveryStatus::Failed;
            delivery.last_error = Some(reason.to_owned());
            delivery.completed_at = Some(at);
            failed += 1;
        }
        Ok(failed)
    }
}

/// Remembers what was published; subscribers receive what is published after they subscribe.
#[derive(Clone, Default)]
pub struct FakeEventBus {
    pub published: Arc<Mutex<Vec<crate::ports::OutboxEvent>>>,
}

#[async_trait]
impl crate::ports::EventBus for FakeEventBus {
    async fn publish(&self, event: &crate::ports::OutboxEvent) {
        self.published.lock().expect("bus lock").push(event.clone());
    }
    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn crate::ports::EventSubscription> {
        let seen = self.published.lock().expect("bus lock").len();
        Box::new(FakeSubscription {
            published: self.published.clone(),
            tenant_id,
            seen,
        })
    }
}

struct FakeSubscription {
    published: Arc<Mutex<Vec<crate::ports::OutboxEvent>>>,
    tenant_id: TenantId,
    seen: usize,
}

#[async_trait]
impl crate::ports::EventSubscription for FakeSubscription {
    async fn next(&mut self) -> Option<crate::ports::OutboxEvent> {
        let published = self.published.lock().expect("bus lock");
        while let Some(event) = published.get(self.seen) {
            self.seen += 1;
            if event.tenant_id == self.tenant_id {
                return Some(event.clone());
            }
        }
        None
    }
}

/// Answers each delivery with the next scripted status (200 once the script is spent),
/// and remembers what it was asked to send.
#[derive(Clone, Default)]
pub struct FakeWebhookSender {
    pub script: Arc<Mutex<std::collections::VecDeque<u16>>>,
    pub sent: Arc<Mutex<Vec<crate::ports::OutgoingWebhook>>>,
    /// A receiver that never answers: sends to URLs containing this hang for good.
    pub black_hole: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl crate::ports::WebhookSender for FakeWebhookSender {
    async fn send(&self, webhook: &crate::ports::OutgoingWebhook) -> crate::ports::WebhookOutcome {
        self.sent.lock().expect("sender lock").push(webhook.clone());
        let hangs = self
            .black_hole
            .lock()
            .expect("sender lock")
            .as_deref()
            .is_some_and(|hole| webhook.url.contains(hole));
        if hangs {
            std::future::pending::<()>().await;
        }
        let status = self.script.lock().expect("sender lock").pop_front().unwrap_or(200);
        crate::ports::WebhookOutcome {
            status: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
        }
    }
}
