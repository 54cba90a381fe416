//! Rate limiting arithmetic: GCRA (a token bucket with no background refill). Each
//! bucket keeps one timestamp, its "theoretical arrival time"; the same rule runs in
//! process and, atomically, in Redis, so both agree to the millisecond. Which buckets
//! a request draws from is the application's business.

use std::time::Duration;

/// `limit` requests per `period`, all of which may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
        }
    }

    /// Milliseconds between two requests at the steady rate, rounded up so that a
    /// bucket never admits more than `limit` per period.
    pub fn emission_interval_ms(&self) -> i64 {
        let limit = i64::from(self.limit.max(1));
        ((self.period.as_millis() as i64 + limit - 1) / limit).max(1)
    }

    pub fn period_ms(&self) -> i64 {
        self.period.as_millis() as i64
    }

    /// The burst the bucket really holds: `limit`, unless millisecond steps cannot
    /// express it (more than one request per millisecond).
    pub fn capacity(&self) -> u32 {
        let steps = self.period_ms() / self.emission_interval_ms();
        self.limit.min(u32::try_from(steps).unwrap_or(u32::MAX))
    }
}

/// The answer for one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the bucket is completely empty again.
    pub reset_after: Duration,
    /// When refused: how long until one request would pass.
    pub retry_after: Option<Duration>,
}

/// GCRA: given the bucket's stored arrival time (`None`: never used) and `now`, the
/// decision and the arrival time to store (`None`: refused, store nothing).
pub fn gcra(now_ms: i64, stored_tat_ms: Option<i64>, quota: Quota) -> (RateDecision, Option<i64>) {
    let interval = quota.emission_interval_ms();
    let period = quota.period_ms();
    let tat = stored_tat_ms.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + interval;
    let ms = |v: i64| Duration::from_millis(v.max(0) as u64);
    if new_tat - now_ms <= period {
        let remaining = ((period - (new_tat - now_ms)) / interval).max(0);
        (
            RateDecision {
                allowed: true,
                limit: quota.capacity(),
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX).min(quota.capacity()),
                reset_after: ms(new_tat - now_ms),
                retry_after: None,
            },
            Some(new_tat),
        )
    } else {
        (
            RateDecision {
                allowed: false,
                limit: quota.capacity(),
                remaining: 0,
                reset_after: ms(tat - now_ms),
                retry_after: Some(ms(new_tat - period - now_ms)),
            },
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota::per_minute(3);

    #[test]
    fn a_full_burst_passes_then_one_request_per_interval() {
        let mut tat = None;
        let mut now = 1_000_000;
        for expected_remaining in [2, 1, 0] {
            let (decision, stored) = gcra(now, tat, Q);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            assert_eq!(decision.limit, 3);
            tat = stored;
        }
        let (refused, stored) = gcra(now, tat, Q);
        assert!(!refused.allowed);
        assert_eq!(stored, None, "a refusal stores nothing");
        assert_eq!(refused.retry_after, Some(Duration::from_secs(20)));
        assert_eq!(refused.reset_after, Duration::from_secs(60));
        now += 19_999;
        assert!(!gcra(now, tat, Q).0.allowed, "one millisecond early");
        now += 1;
        let (again, _) = gcra(now, tat, Q);
        assert!(again.allowed);
        assert_eq!(again.remaining, 0);
    }

    #[test]
    fn an_idle_bucket_refills_completely_and_never_beyond() {
        let (_, tat) = gcra(0, None, Q);
        let (decision, _) = gcra(10 * 60_000, tat, Q);
        assert_eq!(decision.remaining, 2, "a full bucket minus this request");
        assert_eq!(decision.reset_after, Duration::from_secs(20));
    }

    #[test]
    fn a_quota_finer_than_a_millisecond_reports_what_it_holds() {
        let quota = Quota::per_minute(100_000);
        assert_eq!(quota.capacity(), 60_000);
        let (decision, _) = gcra(0, None, quota);
        assert_eq!((decision.limit, decision.remaining), (60_000, 59_999));
    }

    #[test]
    fn a_limit_that_does_not_divide_the_period_never_admits_more() {
        let quota = Quota::per_minute(7_000);
        let (mut tat, mut admitted) = (None, 0u32);
        // Hammer it for one simulated minute, one attempt per millisecond.
        for now in 0..60_000 {
            let (decision, stored) = gcra(now, tat, quota);
            if decision.allowed {
                admitted += 1;
                tat = stored;
            }
        }
        assert!(admitted <= 7_000 + quota.capacity(), "{admitted}");
        assert!(quota.capacity() <= 7_000);
    }
}
