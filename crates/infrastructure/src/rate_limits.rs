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

/// The same rule as [`gcra`], as a Lua function `spend(first_key, first_arg)`: for each
/// bucket in `KEYS` from `first_key` on (`ARGV` holds each bucket's interval and period
/// from `first_arg` on), stopping after the first refusal. Returns `{allowed,
/// tat_before, now}` per bucket looked at, in milliseconds. One script for all of a
/// request's buckets: one round trip, sent by its digest (`EVALSHA`).
macro_rules! gcra_spend_lua {
    () => {
        r"
local function spend(first_key, first_arg)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local out = {}
  for i = first_key, #KEYS do
    local key = KEYS[i]
    local j = first_arg + 2 * (i - first_key)
    local interval = tonumber(ARGV[j])
    local period = tonumber(ARGV[j + 1])
    local stored = redis.call('GET', key)
    local tat = now
    if stored then tat = math.max(tonumber(stored), now) end
    local new_tat = tat + interval
    local before = stored and tonumber(stored) or -1
    if new_tat - now <= period then
      redis.call('SET', key, new_tat, 'PX', new_tat - now)
      table.insert(out, 1)
      table.insert(out, before)
      table.insert(out, now)
    else
      table.insert(out, 0)
      table.insert(out, before)
      table.insert(out, now)
      return out
    end
  end
  return out
end
"
    };
}
pub(crate) use gcra_spend_lua;

/// Every bucket of the request, in order.
const GCRA_SCRIPT: &str = concat!(gcra_spend_lua!(), "return spend(1, 1)\n");

/// A bucket's key in Redis.
pub(crate) fn bucket_key(key: &str) -> String {
    format!("tessera:rate:{key}")
}

/// The decisions of a spending script's answer (`{allowed, tat_before, now}` per bucket
/// looked at), by the same rule the script applied.
pub(crate) fn decisions_from(answers: &[i64], buckets: &[(String, Quota)]) -> Vec<RateDecision> {
    answers
        .chunks_exact(3)
        .zip(buckets)
        .map(|(answer, (key, quota))| {
            let (allowed, stored, now) = (answer[0] == 1, answer[1], answer[2]);
            let (decision, _) = gcra(now, (stored >= 0).then_some(stored), *quota);
            if decision.allowed != allowed {
                // Cannot happen while the script and `gcra` agree; trust Redis, which stored it.
                tracing::error!(key, "rate limit script and rule disagree");
            }
            RateDecision { allowed, ..decision }
        })
        .collect()
}

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
    async fn known_refusal(&self, key: &str, quota: Quota) -> Option<Duration> {
        let stored = self.buckets.get(key).await?;
        let (decision, _) = gcra(now_ms(), Some(stored), quota);
        decision.retry_after.filter(|_| !decision.allowed)
    }

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

/// Buckets in Redis, shared by every replica. Refusals Redis gave are remembered here
/// until they lapse, so a bucket known to refuse is answered without a round trip.
pub struct RedisRateLimiter {
    pool: Pool,
    script: deadpool_redis::redis::Script,
    fallback: InProcessRateLimiter,
    degraded: AtomicBool,
    /// Bucket → until when (ms since the epoch) Redis said it refuses.
    refusing: Cache<String, i64>,
}

impl RedisRateLimiter {
    pub fn new(redis: &crate::Redis) -> Self {
        Self {
            pool: redis.pool().clone(),
            script: deadpool_redis::redis::Script::new(GCRA_SCRIPT),
            fallback: InProcessRateLimiter::new(100_000),
            degraded: AtomicBool::new(false),
            refusing: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    async fn in_redis(&self, buckets: &[(String, Quota)]) -> Result<Vec<RateDecision>, String> {
        let mut connection = self.pool.get().await.map_err(|e| e.to_string())?;
        let mut invocation = self.script.prepare_invoke();
        for (key, quota) in buckets {
            invocation
                .key(bucket_key(key))
                .arg(quota.emission_interval_ms())
                .arg(quota.period_ms());
        }
        let answers: Vec<i64> = tracing::Instrument::instrument(
            invocation.invoke_async(&mut *connection),
            crate::telemetry::redis_call("EVALSHA rate limit"),
        )
        .await
        .map_err(|e| e.to_string())?;
        let decisions = decisions_from(&answers, buckets);
        if decisions.is_empty() && !buckets.is_empty() {
            return Err("the rate limit script answered nothing".into());
        }
        Ok(decisions)
    }

    fn note_answer(&self, answered: bool, error: Option<&str>) {
        if answered {
            if self.degraded.swap(false, Ordering::Relaxed) {
                tracing::info!("rate limits are counted in Redis again");
            }
        } else if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = error.unwrap_or_default(),
                "Redis is unreachable: rate limits are counted in this process"
            );
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn known_refusal(&self, key: &str, quota: Quota) -> Option<Duration> {
        if self.degraded.load(Ordering::Relaxed) {
            return self.fallback.known_refusal(key, quota).await;
        }
        let until = self.refusing.get(key).await?;
        let left = until - now_ms();
        (left > 0).then(|| Duration::from_millis(left as u64))
    }

    async fn acquire(&self, key: &str, quota: Quota) -> RateDecision {
        let mut decisions = self.acquire_in_order(&[(key.to_owned(), quota)]).await;
        decisions.pop().unwrap_or_else(|| gcra(now_ms(), None, quota).0)
    }

    async fn acquire_in_order(&self, buckets: &[(String, Quota)]) -> Vec<RateDecision> {
        match self.in_redis(buckets).await {
            Ok(decisions) => {
                self.note_answer(true, None);
                for ((key, _), decision) in buckets.iter().zip(&decisions) {
                    if let Some(wait) = decision.retry_after.filter(|_| !decision.allowed) {
                        self.refusing
                            .insert(key.clone(), now_ms() + wait.as_millis() as i64)
                            .await;
                    }
                }
                decisions
            }
            Err(error) => {
                self.note_answer(false, Some(&error));
                self.fallback.acquire_in_order(buckets).await
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
        assert!(limiter.known_refusal("a", quota).await.is_some(), "known to refuse");
        assert_eq!(limiter.known_refusal("b", quota).await, None);
        assert_eq!(limiter.known_refusal("never-used", quota).await, None);
        assert!(
            limiter.acquire("b", quota).await.allowed,
            "looking spent nothing: b still had its second request"
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_counting_in_process() {
        // Nothing listens on port 1.
        let limiter =
            RedisRateLimiter::new(&crate::Redis::connect("redis://127.0.0.1:1").expect("a pool is built lazily"));
        let quota = Quota::per_minute(1);
        assert!(limiter.acquire("x", quota).await.allowed);
        assert!(!limiter.acquire("x", quota).await.allowed, "still limited, in process");
        assert!(limiter.degraded.load(Ordering::Relaxed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_takes_a_requests_buckets_in_one_go_and_stops_at_the_first_refusal() {
        let Some(url) = crate::cache::tests::redis_for_tests() else {
            return;
        };
        let limiter = RedisRateLimiter::new(&crate::Redis::connect(&url).expect("pool"));
        let run = uuid::Uuid::now_v7().simple().to_string();
        let (narrow, wide) = (format!("narrow-{run}"), format!("wide-{run}"));
        let buckets = [
            (narrow.clone(), Quota::per_minute(1)),
            (wide.clone(), Quota::per_minute(10)),
        ];
        let first = limiter.acquire_in_order(&buckets).await;
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|d| d.allowed));
        assert_eq!((first[0].remaining, first[1].remaining), (0, 9));
        let second = limiter.acquire_in_order(&buckets).await;
        assert_eq!(second.len(), 1, "the refusal stops the walk");
        assert!(!second[0].allowed);
        assert!(!limiter.degraded.load(Ordering::Relaxed), "answered by Redis");
        // The wide bucket was not spent by the refused request.
        let wide_now = limiter.acquire(&wide, Quota::per_minute(10)).await;
        assert_eq!(wide_now.remaining, 8);
        // The refusal is remembered here: asked again, no round trip is needed.
        assert!(limiter.known_refusal(&narrow, Quota::per_minute(1)).await.is_some());
        assert_eq!(limiter.known_refusal(&wide, Quota::per_minute(10)).await, None);
    }
}
