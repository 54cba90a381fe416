//! Persisted-query stores: an in-process cache bounded in bytes, or Redis (shared by
//! replicas, entries expire after a day of disuse; what one caller may add is bounded
//! by the application's registration budget). A store that cannot answer is a miss:
//! the client then sends the document again.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::AsyncCommands;
use moka::future::Cache;
use tessera_application::ports::PersistedQueryStore;

const REDIS_TTL: Duration = Duration::from_secs(24 * 60 * 60);

pub struct InProcessPersistedQueries {
    documents: Cache<String, String>,
}

impl InProcessPersistedQueries {
    /// At most `capacity_bytes` of hashes and documents are kept; the least used go first.
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            documents: Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|hash: &String, document: &String| {
                    u32::try_from(hash.len() + document.len()).unwrap_or(u32::MAX)
                })
                .time_to_idle(REDIS_TTL)
                .build(),
        }
    }

    /// Bytes held now (after pending evictions are applied).
    pub async fn bytes_held(&self) -> u64 {
        self.documents.run_pending_tasks().await;
        self.documents.weighted_size()
    }
}

#[async_trait]
impl PersistedQueryStore for InProcessPersistedQueries {
    async fn get(&self, hash: &str) -> Option<String> {
        self.documents.get(hash).await
    }

    async fn put(&self, hash: &str, document: &str) {
        self.documents.insert(hash.to_owned(), document.to_owned()).await;
    }
}

pub struct RedisPersistedQueries {
    pool: Pool,
}

impl RedisPersistedQueries {
    pub fn new(redis: &crate::Redis) -> Self {
        Self {
            pool: redis.pool().clone(),
        }
    }

    fn key(hash: &str) -> String {
        format!("tessera:apq:{hash}")
    }
}

#[async_trait]
impl PersistedQueryStore for RedisPersistedQueries {
    async fn get(&self, hash: &str) -> Option<String> {
        let mut connection = self.pool.get().await.ok()?;
        let key = Self::key(hash);
        let document: Option<String> = tracing::Instrument::instrument(
            connection.get(&key),
            crate::telemetry::redis_call("GET persisted document"),
        )
        .await
        .ok()?;
        if document.is_some() {
            // Used documents stay; unused ones fade out.
            let _: Result<(), _> = connection.expire(&key, REDIS_TTL.as_secs() as i64).await;
        }
        document
    }

    async fn put(&self, hash: &str, document: &str) {
        let Ok(mut connection) = self.pool.get().await else {
            return;
        };
        let result: Result<(), _> = tracing::Instrument::instrument(
            connection.set_ex(Self::key(hash), document, REDIS_TTL.as_secs()),
            crate::telemetry::redis_call("SET persisted document"),
        )
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "persisted query not stored in Redis");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_process_store_holds_at_most_its_capacity_in_bytes() {
        let store = InProcessPersistedQueries::new(1024 * 1024);
        let document = "x".repeat(32 * 1024);
        for n in 0..100 {
            store.put(&format!("{n:064}"), &document).await;
        }
        let held = store.bytes_held().await;
        assert!(held <= 1024 * 1024, "{held} bytes held for a 1 MiB store");
        let mut kept = 0;
        for n in 0..100 {
            kept += usize::from(store.get(&format!("{n:064}")).await.is_some());
        }
        assert!(kept * document.len() <= 1024 * 1024, "{kept} documents of 32 KiB kept");
        assert!(kept > 0, "the store still works");
    }
}
