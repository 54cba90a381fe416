//! Rate-limit buckets: in process for one server, and in Redis (one Lua script, so a
//! check-and-update is atomic across replicas, timed by the Redis server's clock).
//! When Redis cannot answer, the Redis limiter counts in process (logged once per
//! outage) and goes back to Redis by itself as soon as it answers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_redis::Pool;
use moka::future::Cache;
use moka::ops::compute::Op;
use tessera_application::ports::RateLimiter;
use tessera_application::rate_limits::{Quota, RateDecision, gcra};

/// The same rule as [`gcra`]: returns `{allowed, tat_before, now}` in milliseconds.
const GCRA_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
if new_tat - now <= period then
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
  return {1, stored and tonumber(stored) or -1, now}
end
return {0, stored and tonumber(stored) or -1, now}
";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Buckets in this process (a single server, or Redis's stand-in).
pub struct InProcessRateLimiter {
    buckets: Cache<String, i64>,
}

impl InProcessRateLimiter {
    pub fn new(max_buckets: u64) -> Self {
        Self {
            // A bucket idle for an hour is full again under any quota up to an hour.
            buckets: Cache::builder()
                .time_to_idle(Duration::from_secs(3600))
                .max_capacity(max_buckets)
                .build(),
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(&self, key: &str, quota: Quota) -> RateDecision {
        let now = now_ms();
        let mut decision = None;
        let outcome = &mut decision;
        self.buckets
            .entry_by_ref(key)
            .and_compute_with(|entry| {
                let (answer, store) = gcra(now, entry.map(|e| e.into_value()), quota);
                *outcome = Some(answer);
                async move { store.map_or(Op::Nop, Op::Put) }
            })
            .await;
        decision.unwrap_or_else(|| gcra(now, None, quota).0)
    }
}

/// Buckets in Redis, shared by every replica.
pub struct RedisRateLimiter {
    pool: Pool,
    fallback: InProcessRateLimiter,
    degraded: AtomicBool,
}

impl RedisRateLimiter {
    pub fn connect(url: &str) -> Result<Self, crate::cache::RedisSetupError> {
        Ok(Self {
            pool: crate::cache::redis_pool(url)?,
            fallback: InProcessRateLimiter::new(100_000),
            degraded: AtomicBool::new(false),
        })
    }

    async fn in_redis(&self, key: &str, quota: Quota) -> Result<RateDecision, String> {
        let mut connection = self.pool.get().await.map_err(|e| e.to_string())?;
        let (allowed, stored, now): (i64, i64, i64) = deadpool_redis::redis::cmd("EVAL")
            .arg(GCRA_SCRIPT)
            .arg(1)
            .arg(format!("tessera:rate:{key}"))
            .arg(quota.emission_interval_ms())
            .arg(quota.period_ms())
            .query_async(&mut *connection)
            .await
            .map_err(|e| e.to_string())?;
        let (decision, _) = gcra(now, (stored >= 0).then_some(stored), quota);
        if decision.allowed != (allowed == 1) {
            // Cannot happen while the script and `gcra` agree; trust Redis, which stored it.
            tracing::error!(key, "rate limit script and rule disagree");
        }
        Ok(RateDecision {
            allowed: allowed == 1,
            ..decision
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, key: &str, quota: Quota) -> RateDecision {
        match self.in_redis(key, quota).await {
            Ok(decision) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits are counted in Redis again");
                }
                decision
            }
            Err(error) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "Redis is unreachable: rate limits are counted in this process");
                }
                self.fallback.acquire(key, quota).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_buckets_refuse_past_the_burst_and_are_independent() {
        let limiter = InProcessRateLimiter::new(100);
        let quota = Quota::per_minute(2);
        assert!(limiter.acquire("a", quota).await.allowed);
        assert!(limiter.acquire("a", quota).await.allowed);
        let refused = limiter.acquire("a", quota).await;
        assert!(!refused.allowed);
        assert!(refused.retry_after.is_some_and(|d| d > Duration::from_secs(25)));
        assert!(limiter.acquire("b", quota).await.allowed, "another bucket is untouched");
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_counting_in_process() {
        // Nothing listens on port 1.
        let limiter = RedisRateLimiter::connect("redis://127.0.0.1:1").expect("a pool is built lazily");
        let quota = Quota::per_minute(1);
        assert!(limiter.acquire("x", quota).await.allowed);
        assert!(!limiter.acquire("x", quota).await.allowed, "still limited, in process");
        assert!(limiter.degraded.load(Ordering::Relaxed));
    }
}
