//! Domain events: each audited change of a tenant becomes, in the same transaction,
//! an outbox event; the outbox worker hands committed events to webhooks (one delivery
//! per interested endpoint) and to live subscribers (the event bus), in order per
//! tenant and at least once.

use chrono::Duration;
use serde_json::json;
use tessera_domain::{
    EventSelection, NewAuditEvent, Permission, RetryPolicy, TenantId, WebhookDelivery, WebhookDeliveryId,
};

use crate::ports::{EventSubscription, OutboxEvent, StoreResult, Transaction};
use crate::{AppError, Application, RequestContext, TenantScope};

/// Events taken from one tenant's queue per transaction.
const OUTBOX_BATCH: u64 = 100;
/// Tenants looked at per pass.
const TENANTS_PER_PASS: u64 = 200;

/// A failed hand-over is tried again after a growing pause (it is never given up:
/// later events of the tenant wait behind it, to keep the order).
const OUTBOX_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::seconds(1),
    max_delay: Duration::minutes(5),
    max_attempts: u32::MAX,
    max_age: Duration::MAX,
};

/// The JSON document of a domain event: what webhooks receive and subscriptions stream.
pub fn event_document(id: uuid::Uuid, event: &NewAuditEvent) -> String {
    let changes: Vec<_> = event
        .changes
        .iter()
        .map(|change| json!({ "field": change.field, "before": change.before, "after": change.after }))
        .collect();
    json!({
        "id": id.to_string(),
        "type": event.action,
        "tenantId": event.tenant_id.map(|t| t.to_string()),
        "occurredAt": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": { "kind": event.actor.kind(), "id": event.actor.id().map(|id| id.to_string()) },
        "target": { "type": event.target_type, "id": event.target_id },
        "changes": changes,
    })
    .to_string()
}

/// An example of the document an event type's deliveries carry, from the catalogue's
/// example changes (fixed ids and time), built by [`event_document`] itself so it has
/// exactly the shape receivers get.
pub fn example_event_document(entry: &tessera_domain::EventType) -> serde_json::Value {
    let id = uuid::Uuid::from_u128(0x0193_9a4b_7c00_7d2e_8f10_2a3b_4c5d_6e7f);
    let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(0x0192_f0c4_8a2e_7c31_9d4e_5b6a_7c8d_9e00));
    let actor = tessera_domain::AuditActor::User(tessera_domain::UserId::from_uuid(uuid::Uuid::from_u128(
        0x0192_f0c4_8a2e_7c31_9d4e_5b6a_7c8d_9e10,
    )));
    let target = match entry.target {
        "domain" => "app.acme.example".to_owned(),
        "tenant" => tenant.to_string(),
        _ => "0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e20".to_owned(),
    };
    // 2026-12-07T10:15:00Z
    let at = chrono::DateTime::from_timestamp(1_796_638_500, 0).unwrap_or_default();
    let event = entry.example_changes.iter().fold(
        NewAuditEvent::new(Some(tenant), actor, entry.name, entry.target, Some(target), at),
        |event, (field, before, after)| event.change(field, *before, *after),
    );
    serde_json::from_str(&event_document(id, &event)).unwrap_or_default()
}

/// A number in `[0, 1)` from the random bits of a fresh id (for retry jitter).
pub(crate) fn jitter(random: uuid::Uuid) -> f64 {
    f64::from((random.as_u128() & 0xffff) as u16) / 65_536.0
}

/// Which of `workers` takes a tenant's queue inside one process (replicas share the
/// work through the database's per-tenant lock).
fn worker_of(tenant: TenantId, workers: usize) -> usize {
    (tenant.as_uuid().as_u128() % workers.max(1) as u128) as usize
}

impl Application {
    /// Appends the change's audit event and, when it is a domain event, its outbox
    /// event: both in the caller's transaction, so they commit or roll back with the
    /// change. The transaction must have entered the event's tenant.
    pub(crate) async fn journal(&self, tx: &dyn Transaction, event: &NewAuditEvent) -> StoreResult<()> {
        if let (true, Some(tenant_id)) = (event.is_domain_event(), event.tenant_id) {
            let id = self.ports.ids.new_id();
            let outbox = OutboxEvent {
                id,
                tenant_id,
                event_type: event.action.clone(),
                payload: event_document(id, event),
                created_at: event.occurred_at,
                attempts: 0,
                next_attempt_at: None,
            };
            return tx.audit().append_announcing(event, &outbox).await;
        }
        tx.audit().append(event).await
    }

    /// One pass of outbox worker `worker` (of `workers` in this process): hands every
    /// due event of its tenants to webhooks and subscribers. Returns how many.
    pub async fn run_outbox(&self, worker: usize, workers: usize) -> Result<usize, AppError> {
        let now = self.ports.clock.now();
        let tenants = {
            let tx = self.global_tx().await?;
            tx.outbox().due_tenants(now, TENANTS_PER_PASS).await?
        };
        let mut handed = 0;
        for tenant in tenants.into_iter().filter(|t| worker_of(*t, workers) == worker) {
            handed += self.hand_over(tenant).await;
        }
        Ok(handed)
    }

    /// One tenant's due events, in order, in one transaction. A failure postpones the
    /// oldest event (and with it the rest of the queue).
    async fn hand_over(&self, tenant: TenantId) -> usize {
        let scope = TenantScope::new(tenant);
        match self.try_hand_over(&scope).await {
            Ok(handed) => handed,
            Err(error) => {
                tracing::warn!(%error, tenant_id = %tenant, "handing over outbox events failed; postponed");
                if let Err(error) = self.postpone_oldest(&scope).await {
                    tracing::error!(%error, tenant_id = %tenant, "postponing an outbox event failed");
                }
                0
            }
        }
    }

    async fn try_hand_over(&self, scope: &TenantScope) -> Result<usize, AppError> {
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(scope).await?;
        let Some(events) = tx.outbox().claim(scope, OUTBOX_BATCH).await? else {
            return Ok(0);
        };
        let due: Vec<OutboxEvent> = events
            .into_iter()
            .take_while(|event| event.next_attempt_at.is_none_or(|at| at <= now))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let endpoints = tx.webhooks().enabled_endpoints(scope).await?;
        let mut deliveries = Vec::new();
        for event in &due {
            for endpoint in endpoints.iter().filter(|e| e.wants(&event.event_type)) {
                deliveries.push(WebhookDelivery::new(
                    WebhookDeliveryId::from_uuid(self.ports.ids.new_id()),
                    endpoint,
                    event.id,
                    &event.event_type,
                    &event.payload,
                    now,
                ));
            }
        }
        if !deliveries.is_empty() {
            tx.webhooks().insert_deliveries(scope, &deliveries).await?;
        }
        let ids: Vec<uuid::Uuid> = due.iter().map(|event| event.id).collect();
        tx.outbox().mark_delivered(scope, &ids, now).await?;
        // Housekeeping for the tenant in hand: what was handed over, or ended, long ago.
        tx.outbox().prune(scope, now - self.webhooks.outbox_retention).await?;
        tx.webhooks()
            .prune_deliveries(scope, now - self.webhooks.delivery_retention)
            .await?;
        // Announced before the commit: if the commit fails the events are handed over
        // again (at least once), never lost.
        for event in &due {
            self.ports.event_bus.publish(event).await;
        }
        tx.commit().await?;
        // The use case dropped the tenant's cached access right after its commit; this
        // second drop, driven by the outbox, also happens when that process died first.
        if due
            .iter()
            .any(|event| tessera_domain::events::changes_access(&event.event_type))
        {
            self.access_changed(scope.tenant_id()).await;
        }
        Ok(due.len())
    }

    async fn postpone_oldest(&self, scope: &TenantScope) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(scope).await?;
        // Through the claim, like a hand-over: never while another worker holds the queue.
        let oldest = tx
            .outbox()
            .claim(scope, 1)
            .await?
            .unwrap_or_default()
            .into_iter()
            .next();
        if let Some(oldest) = oldest {
            let attempts = oldest.attempts.saturating_add(1);
            let at = OUTBOX_RETRY
                .next_attempt(attempts, oldest.created_at, now, jitter(self.ports.ids.new_id()))
                .unwrap_or(now + OUTBOX_RETRY.max_delay);
            tx.outbox().postpone(scope, oldest.id, attempts, at).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The caller's tenant's domain events as they are committed, from now on
    /// (needs `audit:read`). `types` narrows them (empty: every type).
    pub fn subscribe_tenant_events(&self, ctx: &RequestContext, types: Vec<String>) -> Result<TenantEvents, AppError> {
        let scope = ctx.authorize(Permission::AuditRead)?.scope().clone();
        let wanted = if types.is_empty() {
            None
        } else {
            Some(EventSelection::parse(&types).map_err(|e| AppError::validation("types", e.0))?)
        };
        Ok(TenantEvents {
            tenant_id: scope.tenant_id(),
            wanted,
            inner: self.ports.event_bus.subscribe(scope.tenant_id()),
        })
    }
}

/// A live subscription to one tenant's events.
pub struct TenantEvents {
    tenant_id: TenantId,
    /// `None`: every type.
    wanted: Option<EventSelection>,
    inner: Box<dyn EventSubscription>,
}

impl TenantEvents {
    /// The next event of this tenant (of the wanted types); `None` when the bus closed.
    /// (The bus hands over this tenant's events only; the check stays as a second lock.)
    pub async fn next(&mut self) -> Option<OutboxEvent> {
        loop {
            let event = self.inner.next().await?;
            if event.tenant_id == self.tenant_id && self.wanted.as_ref().is_none_or(|w| w.includes(&event.event_type)) {
                return Some(event);
            }
        }
    }

    /// Whether the caller, as its credential stands now, may still receive the
    /// stream (a live connection outlives the request that opened it).
    pub fn still_allowed(&self, caller: &RequestContext) -> Result<(), AppError> {
        if caller.tenant_id() != self.tenant_id {
            return Err(AppError::Unauthenticated(
                "the credential no longer names this tenant".into(),
            ));
        }
        caller.authorize(Permission::AuditRead).map(|_| ())
    }
}
