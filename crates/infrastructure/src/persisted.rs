//! Persisted-query stores: an in-process LRU, or Redis (shared by replicas, entries
//! expire after a day of disuse). A store that cannot answer is a miss: the client
//! then sends the document again.

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
    pub fn new(capacity: u64) -> Self {
        Self {
            documents: Cache::builder().max_capacity(capacity).time_to_idle(REDIS_TTL).build(),
        }
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
    pub fn connect(url: &str) -> Result<Self, crate::cache::RedisSetupError> {
        Ok(Self {
            pool: crate::cache::redis_pool(url)?,
        })
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
        let document: Option<String> = connection.get(&key).await.ok()?;
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
        let result: Result<(), _> = connection.set_ex(Self::key(hash), document, REDIS_TTL.as_secs()).await;
        if let Err(error) = result {
            tracing::warn!(%error, "persisted query not stored in Redis");
        }
    }
}
