//! Rate limits: which buckets a request draws from, and how full each may get.
//! The algorithm is GCRA (a token bucket with no background refill): each bucket
//! keeps one timestamp, its "theoretical arrival time". The same arithmetic runs in
//! process and, atomically, in Redis, so both agree to the millisecond.

use std::time::Duration;

use tessera_domain::Plan;

use crate::ports::RateLimiter;
use crate::{Application, RequestContext};

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

/// Quotas by bucket kind; configuration, per plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub free: Quota,
    pub team: Quota,
    pub enterprise: Quota,
    /// Per user or API key, in any tenant.
    pub principal: Quota,
    /// Per client address, for requests without a credential.
    pub anonymous: Quota,
    /// Per client address, for log-in, sign-up and password-reset requests.
    pub authentication: Quota,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            free: Quota::per_minute(600),
            team: Quota::per_minute(3_000),
            enterprise: Quota::per_minute(12_000),
            principal: Quota::per_minute(600),
            anonymous: Quota::per_minute(120),
            authentication: Quota::per_minute(10),
        }
    }
}

impl RateLimitSettings {
    pub fn for_plan(&self, plan: Plan) -> Quota {
        match plan {
            Plan::Free => self.free,
            Plan::Team => self.team,
            Plan::Enterprise => self.enterprise,
        }
    }
}

/// The part of a client address that per-address limits count by: an IPv4 address
/// whole, an IPv6 address by its /64 network (one subscriber is routinely handed a
/// whole /64, so counting single addresses would hand out 2^64 budgets). An IPv6
/// address that maps an IPv4 one counts as that IPv4 address. Text that is not an
/// address is counted as given.
pub fn address_bucket(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
        Err(_) => ip.to_owned(),
    }
}

/// Who is asking, as far as rate limits care.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    pub member: Option<&'a RequestContext>,
    pub client_ip: Option<&'a str>,
    /// The request logs in, signs up or asks for a password reset.
    pub authentication: bool,
}

/// The outcome across every bucket the request draws from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The bucket that refused, or else the one closest to refusing (for headers).
    pub tightest: Option<(&'static str, RateDecision)>,
}

impl Admitted {
    pub fn allowed(&self) -> bool {
        self.tightest.is_none_or(|(_, d)| d.allowed)
    }
}

impl Application {
    /// The first check of a request, before its credential is looked up or its document
    /// fetched from a store: an address whose budget is spent (by requests without a
    /// credential and by failed authentications) is refused here, from what this
    /// process knows, with no database or Redis work. `None` lets the request on.
    pub async fn refuse_spent_address(&self, client_ip: Option<&str>) -> Option<Admitted> {
        let settings = &self.rate_limits;
        if !settings.enabled {
            return None;
        }
        let key = format!("ip:{}", address_bucket(client_ip?));
        let wait = self.ports.rate_limiter.known_refusal(&key, settings.anonymous).await?;
        tracing::info!(bucket = "address", "refused before authentication");
        Some(Admitted {
            tightest: Some((
                "address",
                RateDecision {
                    allowed: false,
                    limit: settings.anonymous.capacity(),
                    remaining: 0,
                    reset_after: wait,
                    retry_after: Some(wait),
                },
            )),
        })
    }

    /// Draws one request from each bucket that applies: the tenant (sized by plan) and
    /// the principal for a member or key; the client address otherwise; and the strict
    /// authentication bucket for log-in, sign-up and reset requests. Stops at the first
    /// refusal.
    pub async fn admit(&self, request: Admission<'_>) -> Admitted {
        let settings = &self.rate_limits;
        if !settings.enabled {
            return Admitted { tightest: None };
        }
        let mut buckets: Vec<(&'static str, String, Quota)> = Vec::with_capacity(3);
        let address = request.client_ip.map(address_bucket);
        if request.authentication
            && let Some(address) = &address
        {
            buckets.push(("authentication", format!("auth:{address}"), settings.authentication));
        }
        match request.member {
            Some(member) => {
                // The narrower bucket first: a principal past its own limit is refused
                // without spending its tenant's quota.
                let principal = match member.actor() {
                    crate::context::Actor::User(user) => format!("user:{user}"),
                    crate::context::Actor::ApiKey(key) => format!("key:{key}"),
                };
                buckets.push(("principal", principal, settings.principal));
                buckets.push((
                    "tenant",
                    format!("tenant:{}", member.tenant_id()),
                    settings.for_plan(member.plan()),
                ));
            }
            None => {
                // Without a credential, or with one that failed: the address pays.
                if let Some(address) = &address {
                    buckets.push(("anonymous", format!("ip:{address}"), settings.anonymous));
                }
            }
        }
        let limiter: &dyn RateLimiter = self.ports.rate_limiter.as_ref();
        let keys: Vec<(String, Quota)> = buckets.iter().map(|(_, key, quota)| (key.clone(), *quota)).collect();
        let decisions = limiter.acquire_in_order(&keys).await;
        let mut tightest: Option<(&'static str, RateDecision)> = None;
        for ((kind, _, _), decision) in buckets.iter().zip(decisions) {
            if !decision.allowed {
                tracing::info!(bucket = kind, "rate limit exceeded");
                return Admitted {
                    tightest: Some((kind, decision)),
                };
            }
            let tighter = tightest.is_none_or(|(_, best)| {
                u64::from(decision.remaining) * u64::from(best.limit)
                    < u64::from(best.remaining) * u64::from(decision.limit)
            });
            if tighter {
                tightest = Some((kind, decision));
            }
        }
        Admitted { tightest }
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

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network_and_ipv4_by_address() {
        assert_eq!(address_bucket("203.0.113.7"), "203.0.113.7");
        assert_eq!(address_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            address_bucket("2001:db8:1:2::9"),
            "one /64, one budget"
        );
        assert_ne!(address_bucket("2001:db8:1:3::1"), address_bucket("2001:db8:1:2::1"));
        assert_eq!(address_bucket("::ffff:198.51.100.4"), "198.51.100.4", "mapped IPv4");
        assert_eq!(address_bucket("not an address"), "not an address");
    }

    #[test]
    fn plans_pick_their_quota() {
        let settings = RateLimitSettings::default();
        assert!(settings.for_plan(Plan::Free).limit < settings.for_plan(Plan::Team).limit);
        assert!(settings.for_plan(Plan::Team).limit < settings.for_plan(Plan::Enterprise).limit);
    }
}
