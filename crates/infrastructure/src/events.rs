//! The event bus behind live subscriptions. In process: a broadcast channel. With
//! Redis: every replica publishes committed events on one channel and forwards what
//! it hears to its own subscribers, so a subscriber on any replica sees events
//! committed on every replica. A subscriber too slow to keep up skips what it missed
//! (live updates are not a delivery guarantee; webhooks are).

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use serde_json::json;
use tessera_application::ports::{EventBus, EventSubscription, OutboxEvent};
use tessera_domain::TenantId;
use tokio::sync::broadcast;

use crate::cache::{RedisSetupError, redis_pool};

const CHANNEL: &str = "tessera:domain-events";
const BUFFER: usize = 4_096;

#[derive(Clone)]
pub struct InProcessEventBus {
    sender: broadcast::Sender<OutboxEvent>,
}

impl Default for InProcessEventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
        }
    }
}

#[async_trait]
impl EventBus for InProcessEventBus {
    async fn publish(&self, event: &OutboxEvent) {
        // No subscriber is not an error.
        let _ = self.sender.send(event.clone());
    }

    fn subscribe(&self) -> Box<dyn EventSubscription> {
        Box::new(Receiver(self.sender.subscribe()))
    }
}

struct Receiver(broadcast::Receiver<OutboxEvent>);

#[async_trait]
impl EventSubscription for Receiver {
    async fn next(&mut self) -> Option<OutboxEvent> {
        loop {
            match self.0.recv().await {
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
    pub fn connect(url: &str) -> Result<Self, RedisSetupError> {
        let pool = redis_pool(url)?;
        let local = InProcessEventBus::default();
        let listener = tokio::spawn(listen(url.to_owned(), local.clone()));
        Ok(Self { pool, local, listener })
    }
}

/// Forwards the channel to local subscribers; reconnects with back-off.
async fn listen(url: String, local: InProcessEventBus) {
    use futures_util::StreamExt;
    let Ok(client) = deadpool_redis::redis::Client::open(url) else {
        tracing::error!("the Redis URL is not valid: live events stay on this replica");
        return;
    };
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

    fn subscribe(&self) -> Box<dyn EventSubscription> {
        self.local.subscribe()
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

    #[tokio::test]
    async fn subscribers_hear_what_is_published_after_they_subscribe() {
        let bus = InProcessEventBus::default();
        let event = |n: u8| OutboxEvent {
            id: uuid::Uuid::from_bytes([n; 16]),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            event_type: "role.created".into(),
            payload: "{}".into(),
            created_at: chrono::Utc::now(),
            attempts: 0,
            next_attempt_at: None,
        };
        bus.publish(&event(1)).await;
        let mut subscription = bus.subscribe();
        bus.publish(&event(2)).await;
        assert_eq!(subscription.next().await.map(|e| e.id), Some(event(2).id));
    }
}
