//! One connection to Redis for the whole process: a pool every Redis adapter draws
//! from (access cache, attempts, rate limits, persisted queries, live events), and the
//! client their pub/sub listeners subscribe with. A slow or absent Redis must not
//! stall requests, so the pool gives up quickly.

use std::time::Duration;

use deadpool_redis::redis::Client;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

/// Connections the shared pool opens at most.
const MAX_CONNECTIONS: usize = 32;
/// How long a command waits for, opens or recycles a connection.
const GIVE_UP_AFTER: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Redis pool: {0}")]
pub struct RedisSetupError(String);

/// The shared pool and pub/sub client. Cloning shares them.
#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    client: Client,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("Redis").field("pool", &self.pool.status()).finish()
    }
}

impl Redis {
    /// Builds the pool; connections are opened lazily, so an unreachable Redis is not
    /// an error here (each adapter degrades on its own when a command fails).
    pub fn connect(url: &str) -> Result<Self, RedisSetupError> {
        let client = Client::open(url).map_err(|e| RedisSetupError(e.to_string()))?;
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size: MAX_CONNECTIONS,
            timeouts: Timeouts {
                wait: Some(GIVE_UP_AFTER),
                create: Some(GIVE_UP_AFTER),
                recycle: Some(GIVE_UP_AFTER),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| RedisSetupError(e.to_string()))?;
        Ok(Self { pool, client })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// For pub/sub listeners: each subscribes on a connection of its own.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// `PING`, for readiness checks.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.pool.get().await.map_err(|e| e.to_string())?;
        deadpool_redis::redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_is_not_redis_is_refused_at_once() {
        assert!(Redis::connect("not a url").is_err());
    }

    #[test]
    fn its_debug_form_hides_the_url() {
        let redis = Redis::connect("redis://user:hunter2@127.0.0.1:1/").expect("built lazily");
        assert!(!format!("{redis:?}").contains("hunter2"));
    }
}
