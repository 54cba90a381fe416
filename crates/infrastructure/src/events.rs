//! The event bus behind live subscriptions. In process: one broadcast channel per
//! tenant that has subscribers, so an event wakes only its own tenant's subscribers
//! (a tenant nobody listens to costs a map lookup). With Redis: every replica
//! publishes committed events on one channel and forwards what it hears to its own
//! subscribers of that tenant, so a subscriber on any replica sees events committed on
//! every replica. A subscriber too slow to keep up skips what it missed (live updates
//! are not a delivery guarantee; webhooks are).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use serde_json::json;
use tessera_application::ports::{EventBus, EventSubscription, OutboxEvent};
use tessera_domain::TenantId;
use tokio::sync::broadcast;

const CHANNEL: &str = "tessera:domain-events";
/// Events a tenant's channel holds for its slowest subscriber.
const BUFFER: usize = 256;

type Channels = Arc<Mutex<HashMap<TenantId, broadcast::Sender<OutboxEvent>>>>;

#[derive(Clone, Default)]
pub struct InProcessEventBus {
    /// A channel per tenant with at least one subscriber here; the last subscriber to
    /// leave removes it.
    channels: Channels,
}

impl InProcessEventBus {
    /// Tenants with a channel now (those with live subscribers).
    pub fn tenants_listening(&self) -> usize {
        self.channels.lock().map_or(0, |channels| channels.len())
    }
}

#[async_trait]
impl EventBus for InProcessEventBus {
    async fn publish(&self, event: &OutboxEvent) {
        let sender = match self.channels.lock() {
            Ok(channels) => channels.get(&event.tenant_id).cloned(),
            Err(_) => None,
        };
        // Nobody of this tenant listening is not an error.
        if let Some(sender) = sender {
            let _ = sender.send(event.clone());
        }
    }

    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn EventSubscription> {
        Box::new(self.receiver(tenant_id))
    }
}

impl InProcessEventBus {
    fn receiver(&self, tenant_id: TenantId) -> Receiver {
        let receiver = match self.channels.lock() {
            Ok(mut channels) => channels
                .entry(tenant_id)
                .or_insert_with(|| broadcast::channel(BUFFER).0)
                .subscribe(),
            // A poisoned map (a panic elsewhere): a channel nobody sends on ends at once.
            Err(_) => broadcast::channel(1).0.subscribe(),
        };
        Receiver {
            receiver,
            tenant_id,
            channels: self.channels.clone(),
        }
    }
}

struct Receiver {
    receiver: broadcast::Receiver<OutboxEvent>,
    tenant_id: TenantId,
    channels: Channels,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Ok(mut channels) = self.channels.lock()
            && channels
                .get(&self.tenant_id)
                .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            // This receiver is the last one (it still counts until it is dropped).
            channels.remove(&self.tenant_id);
        }
    }
}

#[async_trait]
impl EventSubscription for Receiver {
    async fn next(&mut self) -> Option<OutboxEvent> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live subscriber fell behind and skipped events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Publishes through Redis; a listener per replica feeds the local subscribers.
pub struct RedisEventBus {
    pool: Pool,
    local: InProcessEventBus,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for RedisEventBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn encode(event: &OutboxEvent) -> String {
    json!({
        "id": event.id,
        "tenantId": event.tenant_id.to_string(),
        "type": event.event_type,
        "createdAt": event.created_at,
        "payload": event.payload,
    })
    .to_string()
}

fn decode(text: &str) -> Option<OutboxEvent> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(OutboxEvent {
        id: uuid::Uuid::parse_str(value.get("id")?.as_str()?).ok()?,
        tenant_id: TenantId::parse(value.get("tenantId")?.as_str()?).ok()?,
        event_type: value.get("type")?.as_str()?.to_owned(),
        payload: value.get("payload")?.as_str()?.to_owned(),
        created_at: serde_json::from_value(value.get("createdAt")?.clone()).ok()?,
        attempts: 0,
        next_attempt_at: None,
    })
}

impl RedisEventBus {
    /// Must be called inside a Tokio runtime (it starts the listener).
    pub fn new(redis: &crate::Redis) -> Self {
        let local = InProcessEventBus::default();
        let listener = tokio::spawn(listen(redis.client().clone(), local.clone()));
        Self {
            pool: redis.pool().clone(),
            local,
            listener,
        }
    }
}

/// Forwards the channel to local subscribers; reconnects with back-off.
async fn listen(client: deadpool_redis::redis::Client, local: InProcessEventBus) {
    use futures_util::StreamExt;
    let mut delay = Duration::from_millis(250);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await
            && pubsub.subscribe(CHANNEL).await.is_ok()
        {
            delay = Duration::from_millis(250);
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                if let Some(event) = message.get_payload::<String>().ok().as_deref().and_then(decode) {
                    local.publish(&event).await;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[async_trait]
impl EventBus for RedisEventBus {
    async fn publish(&self, event: &OutboxEvent) {
        let published: Result<(), String> = async {
            let mut connection = self.pool.get().await.map_err(|e| e.to_string())?;
            deadpool_redis::redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(encode(event))
                .query_async::<i64>(&mut connection)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(error) = published {
            // Subscribers on this replica still hear it; the others miss it.
            tracing::warn!(%error, "publishing a live event through Redis failed");
            self.local.publish(event).await;
        }
    }

    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn EventSubscription> {
        self.local.subscribe(tenant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_wire() {
        let event = OutboxEvent {
            id: uuid::Uuid::now_v7(),
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            event_type: "workspace.renamed".into(),
            payload: "{\"a\":1}".into(),
            created_at: chrono::Utc::now(),
            attempts: 0,
            next_attempt_at: None,
        };
        assert_eq!(decode(&encode(&event)), Some(event));
        assert_eq!(decode("not json"), None);
    }

    fn event(tenant: u128, n: u8) -> OutboxEvent {
        OutboxEvent {
            id: uuid::Uuid::from_bytes([n; 16]),
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(tenant)),
            event_type: "role.created".into(),
            payload: "{}".into(),
            created_at: chrono::Utc::now(),
            attempts: 0,
            next_attempt_at: None,
        }
    }

    #[tokio::test]
    async fn subscribers_hear_what_is_published_after_they_subscribe() {
        let bus = InProcessEventBus::default();
        bus.publish(&event(1, 1)).await;
        let mut subscription = bus.subscribe(event(1, 0).tenant_id);
        bus.publish(&event(1, 2)).await;
        assert_eq!(subscription.next().await.map(|e| e.id), Some(event(1, 2).id));
    }

    #[tokio::test]
    async fn an_event_reaches_only_its_own_tenants_subscribers_and_channels_go_with_them() {
        let bus = InProcessEventBus::default();
        let (a, b) = (event(1, 0).tenant_id, event(2, 0).tenant_id);
        let mut of_a = bus.receiver(a);
        let of_b = bus.receiver(b);
        assert_eq!(bus.tenants_listening(), 2);
        // Far more of B's events than a channel holds: none of them lands in A's queue,
        // so A's subscriber is neither woken nor made to skip anything.
        for n in 0..=255u8 {
            for _ in 0..4 {
                bus.publish(&event(2, n)).await;
            }
        }
        bus.publish(&event(3, 9)).await;
        bus.publish(&event(1, 7)).await;
        assert_eq!(of_a.receiver.len(), 1, "only A's own event waits for A");
        assert_eq!(of_a.next().await.map(|e| e.id), Some(event(1, 7).id));
        drop(of_b);
        assert_eq!(
            bus.tenants_listening(),
            1,
            "the last subscriber of B took its channel along"
        );
        drop(of_a);
        assert_eq!(bus.tenants_listening(), 0);
    }
}
