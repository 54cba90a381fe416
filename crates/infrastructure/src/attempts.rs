//! Failed-attempt counters for log-in throttling, in fixed windows: in-process for a
//! single server, Redis (`INCR` + `EXPIRE`) when replicas share the count. A counter
//! that cannot be read blocks nobody; it is a throttle, not the lock on the door.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::AsyncCommands;
use moka::future::Cache;
use tessera_application::ports::AttemptLimiter;

pub struct InProcessAttempts {
    window: Duration,
    counts: Cache<String, (u32, Instant)>,
}

impl InProcessAttempts {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            counts: Cache::builder().time_to_live(window).max_capacity(1_000_000).build(),
        }
    }
}

#[async_trait]
impl AttemptLimiter for InProcessAttempts {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let (count, started) = self.counts.get(key).await?;
        let elapsed = started.elapsed();
        (count >= max && elapsed < self.window).then(|| (self.window - elapsed).as_secs().max(1))
    }

    async fn record_failure(&self, key: &str) {
        let window = self.window;
        self.counts
            .entry(key.to_owned())
            .and_upsert_with(|current| async move {
                match current.map(|entry| entry.into_value()) {
                    Some((count, started)) if started.elapsed() < window => (count + 1, started),
                    _ => (1, Instant::now()),
                }
            })
            .await;
    }

    async fn reset(&self, key: &str) {
        self.counts.invalidate(key).await;
    }
}

pub struct RedisAttempts {
    pool: Pool,
    window: Duration,
}

impl RedisAttempts {
    pub fn new(redis: &crate::Redis, window: Duration) -> Self {
        Self {
            pool: redis.pool().clone(),
            window,
        }
    }

    fn key(key: &str) -> String {
        format!("tessera:attempts:{key}")
    }
}

#[async_trait]
impl AttemptLimiter for RedisAttempts {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let mut connection = self.pool.get().await.ok()?;
        let key = Self::key(key);
        let count: Option<u32> = connection.get(&key).await.ok()?;
        if count? < max {
            return None;
        }
        let ttl: i64 = connection.ttl(&key).await.ok()?;
        Some(u64::try_from(ttl).unwrap_or(1).max(1))
    }

    async fn record_failure(&self, key: &str) {
        let Ok(mut connection) = self.pool.get().await else {
            return;
        };
        let key = Self::key(key);
        let result: Result<(), _> = deadpool_redis::redis::pipe()
            .atomic()
            .incr(&key, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(self.window.as_secs().max(1))
            .arg("NX")
            .ignore()
            .query_async(&mut connection)
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "recording a failed attempt in Redis failed");
        }
    }

    async fn reset(&self, key: &str) {
        if let Ok(mut connection) = self.pool.get().await {
            let _: Result<(), _> = connection.del(Self::key(key)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_blocked_after_max_failures_until_reset() {
        let attempts = InProcessAttempts::new(Duration::from_secs(60));
        for _ in 0..2 {
            attempts.record_failure("login:account:a").await;
        }
        assert_eq!(attempts.blocked_for("login:account:a", 3).await, None);
        attempts.record_failure("login:account:a").await;
        assert!(
            attempts
                .blocked_for("login:account:a", 3)
                .await
                .is_some_and(|wait| wait <= 60)
        );
        assert_eq!(
            attempts.blocked_for("login:account:b", 3).await,
            None,
            "keys are independent"
        );
        attempts.reset("login:account:a").await;
        assert_eq!(attempts.blocked_for("login:account:a", 3).await, None);
    }
}
