//! Sending webhook deliveries: many at once, but never more than a tenant's share or
//! an endpoint's, so one tenant pointing its endpoints at a black hole holds only its
//! own slots while every other tenant's deliveries go on. Each send is claimed alone
//! (its reservation covers exactly that send), recorded, and counts towards disabling
//! an endpoint that keeps failing.
//!
//! The caps are per process (the bookkeeping lives in the [`Application`], shared by
//! this process's workers); replicas each bring their own.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use tessera_domain::{
    AttemptEnd, AuditActor, NewAuditEvent, TenantId, WebhookDelivery, WebhookEndpoint, WebhookEndpointId,
};

use crate::events::jitter;
use crate::ports::OutgoingWebhook;
use crate::{AppError, Application, TenantScope};

/// Tenants looked at per pass.
const TENANTS_PER_PASS: u64 = 200;

/// How many deliveries one process sends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConcurrency {
    /// In all.
    pub total: usize,
    /// For one tenant.
    pub per_tenant: usize,
    /// To one endpoint.
    pub per_endpoint: usize,
}

impl Default for DeliveryConcurrency {
    fn default() -> Self {
        Self {
            total: 16,
            per_tenant: 4,
            per_endpoint: 2,
        }
    }
}

/// The sends in flight in this process, by tenant and by endpoint.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    total: usize,
    tenants: HashMap<TenantId, usize>,
    endpoints: HashMap<WebhookEndpointId, usize>,
}

impl InFlight {
    fn tenant_has_room(&self, tenant: TenantId, caps: DeliveryConcurrency) -> bool {
        self.total < caps.total && self.tenants.get(&tenant).copied().unwrap_or(0) < caps.per_tenant
    }

    fn busy_endpoints(&self, caps: DeliveryConcurrency) -> Vec<WebhookEndpointId> {
        self.endpoints
            .iter()
            .filter(|(_, sending)| **sending >= caps.per_endpoint)
            .map(|(endpoint, _)| *endpoint)
            .collect()
    }
}

/// A send's place in the bookkeeping; given back when the send ends, however it ends.
struct Slot {
    in_flight: Arc<Mutex<InFlight>>,
    tenant: TenantId,
    endpoint: WebhookEndpointId,
}

impl Slot {
    fn take(in_flight: &Arc<Mutex<InFlight>>, tenant: TenantId, endpoint: WebhookEndpointId) -> Self {
        if let Ok(mut counts) = in_flight.lock() {
            counts.total += 1;
            *counts.tenants.entry(tenant).or_insert(0) += 1;
            *counts.endpoints.entry(endpoint).or_insert(0) += 1;
        }
        Self {
            in_flight: in_flight.clone(),
            tenant,
            endpoint,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.in_flight.lock() {
            counts.total = counts.total.saturating_sub(1);
            release(&mut counts.tenants, self.tenant);
            release(&mut counts.endpoints, self.endpoint);
        }
    }
}

/// One send fewer under `key`; a key with none left is forgotten.
fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Some(sending) = counts.get_mut(&key) {
        *sending -= 1;
        if *sending == 0 {
            counts.remove(&key);
        }
    }
}

/// One send, ready to run on its own.
pub type DeliverySend = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl Application {
    /// One pass: starts every due delivery the caps allow and waits for them all.
    /// Returns how many were sent. (Tests and one-off runs; the server runs
    /// [`Application::run_webhook_sender`].)
    pub async fn run_webhook_deliveries(&self) -> Result<usize, AppError> {
        // Every claim first, then the sends: no send holds a connection while the
        // claims wait for one.
        let mut sends = Vec::new();
        let started = self.start_due_deliveries(&mut |send| sends.push(send)).await?;
        let mut sending: FuturesUnordered<DeliverySend> = sends.into_iter().collect();
        while sending.next().await.is_some() {}
        Ok(started)
    }

    /// A delivery worker, until the future is dropped: every `pause` (the poll
    /// interval) it starts as many due deliveries as the caps leave room for, each
    /// handed to `spawn` to run on its own, so a slow receiver holds only its slot and
    /// never this loop.
    pub async fn run_webhook_sender<P, F, S>(&self, pause: P, spawn: S)
    where
        P: Fn() -> F,
        F: Future<Output = ()> + Send,
        S: Fn(DeliverySend) + Send + Sync,
    {
        loop {
            if let Err(error) = self.start_due_deliveries(&mut |send| spawn(send)).await {
                tracing::warn!(%error, "looking for due webhook deliveries failed");
            }
            pause().await;
        }
    }

    /// Claims due deliveries, tenant by tenant, while the caps leave room, and hands
    /// each one's send to `launch`. Returns how many it started.
    async fn start_due_deliveries(&self, launch: &mut (dyn FnMut(DeliverySend) + Send)) -> Result<usize, AppError> {
        let caps = self.webhooks.concurrency;
        let now = self.ports.clock.now();
        let tenants = {
            let tx = self.global_tx().await?;
            tx.webhooks().due_tenants(now, TENANTS_PER_PASS).await?
        };
        let mut started = 0;
        for tenant in tenants {
            let scope = TenantScope::new(tenant);
            loop {
                let busy = {
                    let Ok(counts) = self.deliveries_in_flight.lock() else {
                        return Ok(started);
                    };
                    if !counts.tenant_has_room(tenant, caps) {
                        break;
                    }
                    counts.busy_endpoints(caps)
                };
                match self.claim_one(&scope, &busy).await {
                    Ok(Some(delivery)) => {
                        let slot = Slot::take(&self.deliveries_in_flight, tenant, delivery.endpoint_id);
                        let (app, scope) = (self.clone(), scope.clone());
                        launch(Box::pin(async move {
                            if let Err(error) = app.send_delivery(&scope, delivery).await {
                                tracing::warn!(%error, tenant_id = %scope.tenant_id(), "a webhook delivery could not be recorded");
                            }
                            drop(slot);
                        }));
                        started += 1;
                    }
                    Ok(None) => break,
                    // One tenant's trouble does not hold up the others.
                    Err(error) => {
                        tracing::warn!(%error, tenant_id = %tenant, "claiming a webhook delivery failed");
                        break;
                    }
                }
            }
        }
        Ok(started)
    }

    /// The tenant's next due delivery to an endpoint not in `busy`, reserved for this
    /// worker for one lease.
    async fn claim_one(
        &self,
        scope: &TenantScope,
        busy: &[WebhookEndpointId],
    ) -> Result<Option<WebhookDelivery>, AppError> {
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(scope).await?;
        let claimed = tx
            .webhooks()
            .claim_due(scope, now, now + self.webhooks.lease, 1, busy)
            .await?;
        tx.commit().await?;
        Ok(claimed.into_iter().next())
    }

    async fn send_delivery(&self, scope: &TenantScope, mut delivery: WebhookDelivery) -> Result<(), AppError> {
        let (endpoint, secrets) = {
            let tx = self.tenant_tx(scope).await?;
            let endpoint = tx.webhooks().find_endpoint(scope, delivery.endpoint_id).await?;
            let secrets = tx.webhooks().secrets(scope, delivery.endpoint_id).await?;
            (endpoint, secrets)
        };
        let (Some(endpoint), Some(secrets)) = (endpoint, secrets) else {
            return Ok(()); // deleted meanwhile: its deliveries went with it
        };
        let now = self.ports.clock.now();
        if !endpoint.enabled {
            delivery.abandon("the endpoint is disabled", now);
            return self.record_delivery(scope, &delivery, &endpoint, None).await;
        }
        let outcome = self
            .ports
            .webhook_sender
            .send(&OutgoingWebhook {
                url: endpoint.url.as_str().to_owned(),
                delivery_id: delivery.id,
                event_id: delivery.event_id,
                event_type: delivery.event_type.clone(),
                body: delivery.payload.clone(),
                secrets: secrets.active(now).into_iter().map(str::to_owned).collect(),
                sent_at: now,
            })
            .await;
        let error = if outcome.succeeded() {
            None
        } else {
            Some(outcome.error.unwrap_or_else(|| "the endpoint did not succeed".into()))
        };
        let end = delivery.record_attempt(
            outcome.status,
            error,
            &self.webhooks.retry,
            self.ports.clock.now(),
            jitter(self.ports.ids.new_id()),
        );
        let gave_up = match end {
            AttemptEnd::Succeeded => Some(false),
            AttemptEnd::Retrying => None,
            AttemptEnd::GaveUp => Some(true),
        };
        self.record_delivery(scope, &delivery, &endpoint, gave_up).await
    }

    /// Stores a delivery's outcome; when it ended (`gave_up` is known), updates the
    /// endpoint's failure count and disables it at the bound.
    async fn record_delivery(
        &self,
        scope: &TenantScope,
        delivery: &WebhookDelivery,
        endpoint: &WebhookEndpoint,
        gave_up: Option<bool>,
    ) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(scope).await?;
        tx.webhooks().update_delivery(scope, delivery).await?;
        if let Some(gave_up) = gave_up {
            let failures = tx.webhooks().note_outcome(scope, endpoint.id, gave_up).await?;
            if gave_up && failures >= self.webhooks.disable_after_failed_deliveries.max(1) {
                let current = tx.webhooks().find_endpoint(scope, endpoint.id).await?;
                if let Some(read) = current.filter(|e| e.enabled) {
                    let reason = format!("{failures} deliveries in a row failed");
                    let mut current = read.clone();
                    current.disable(reason.clone(), now);
                    tx.webhooks().update_endpoint(scope, &read, &current).await?;
                    tx.webhooks()
                        .fail_pending(scope, endpoint.id, "the endpoint was disabled", now)
                        .await?;
                    let event = NewAuditEvent::new(
                        Some(scope.tenant_id()),
                        AuditActor::System,
                        "webhook_endpoint.disabled",
                        "webhook_endpoint",
                        Some(endpoint.id.to_string()),
                        now,
                    )
                    .change("enabled", Some(true), Some(false))
                    .change("disabled_reason", None::<&str>, Some(reason.as_str()));
                    self.journal(tx.as_ref(), &event).await?;
                    tracing::warn!(endpoint_id = %endpoint.id, tenant_id = %scope.tenant_id(), %reason, "webhook endpoint disabled");
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bookkeeping_keeps_each_tenant_and_endpoint_within_its_share() {
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        let caps = DeliveryConcurrency {
            total: 3,
            per_tenant: 2,
            per_endpoint: 1,
        };
        let tenant = |n: u128| TenantId::from_uuid(uuid::Uuid::from_u128(n));
        let endpoint = |n: u128| WebhookEndpointId::from_uuid(uuid::Uuid::from_u128(n));
        let first = Slot::take(&in_flight, tenant(1), endpoint(1));
        let second = Slot::take(&in_flight, tenant(1), endpoint(2));
        {
            let counts = in_flight.lock().expect("lock");
            assert!(!counts.tenant_has_room(tenant(1), caps), "tenant 1 holds its two");
            assert!(counts.tenant_has_room(tenant(2), caps), "another tenant still has room");
            let mut busy = counts.busy_endpoints(caps);
            busy.sort();
            assert_eq!(busy, vec![endpoint(1), endpoint(2)]);
        }
        let third = Slot::take(&in_flight, tenant(2), endpoint(3));
        assert!(
            !in_flight.lock().expect("lock").tenant_has_room(tenant(3), caps),
            "the process is full"
        );
        drop((first, second, third));
        let counts = in_flight.lock().expect("lock");
        assert_eq!(counts.total, 0);
        assert!(
            counts.tenants.is_empty() && counts.endpoints.is_empty(),
            "every slot came back"
        );
    }
}
