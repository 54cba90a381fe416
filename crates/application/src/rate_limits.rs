//! Rate limits: which buckets a request draws from, and how full each may get. The
//! arithmetic (GCRA) is the domain's ([`tessera_domain::rate_limit`]).

pub use tessera_domain::rate_limit::{Quota, RateDecision, gcra};
use tessera_domain::{Allowance, RequestLimits, TenantId};

use crate::ports::RateLimiter;
use crate::{Actor, Application, RequestContext};

/// Quotas by bucket kind (a whole tenant's comes from its plan's
/// `requests_per_minute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub enabled: bool,
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
            principal: Quota::per_minute(600),
            anonymous: Quota::per_minute(120),
            authentication: Quota::per_minute(10),
        }
    }
}

/// A whole tenant's requests per minute, from its plan (`None`: unlimited).
fn tenant_quota(limits: &RequestLimits) -> Option<Quota> {
    match limits.requests_per_minute {
        Allowance::AtMost(limit) => Some(Quota::per_minute(u32::try_from(limit).unwrap_or(u32::MAX))),
        Allowance::Unlimited => None,
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

    /// The buckets a member's or key's request draws from, narrowest first: its own (a
    /// principal past its own limit is refused without spending its tenant's quota),
    /// then its tenant's, sized by plan.
    pub(crate) fn member_buckets(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        limits: &RequestLimits,
    ) -> Vec<(&'static str, String, Quota)> {
        let principal = match actor {
            Actor::User(user) => format!("user:{user}"),
            Actor::ApiKey(key) => format!("key:{key}"),
        };
        let mut buckets = vec![("principal", principal, self.rate_limits.principal)];
        if let Some(quota) = tenant_quota(limits) {
            buckets.push(("tenant", format!("tenant:{tenant_id}"), quota));
        }
        buckets
    }

    /// [`Application::member_buckets`] as the access cache spends them with a lookup.
    pub(crate) fn buckets_to_spend(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        limits: &RequestLimits,
    ) -> Vec<(String, Quota)> {
        self.member_buckets(actor, tenant_id, limits)
            .into_iter()
            .map(|(_, key, quota)| (key, quota))
            .collect()
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
                buckets.extend(self.member_buckets(member.actor(), member.tenant_id(), member.limits()));
            }
            None => {
                // Without a credential, or with one that failed: the address pays.
                if let Some(address) = &address {
                    buckets.push(("anonymous", format!("ip:{address}"), settings.anonymous));
                }
            }
        }
        // A member's buckets may have been spent with the authentication's lookup (one
        // round trip for both); the same buckets, in the same order.
        let spent_ahead = request
            .member
            .and_then(RequestContext::spent_ahead)
            .filter(|_| !request.authentication);
        let decisions = match spent_ahead {
            Some(decisions) => decisions.to_vec(),
            None => {
                let limiter: &dyn RateLimiter = self.ports.rate_limiter.as_ref();
                let keys: Vec<(String, Quota)> = buckets.iter().map(|(_, key, quota)| (key.clone(), *quota)).collect();
                limiter.acquire_in_order(&keys).await
            }
        };
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

/// The refusal of a request a budget turned away: `RATE_LIMITED`, retry after the
/// decision's wait (at least a second).
pub(crate) fn refused(decision: &RateDecision) -> crate::AppError {
    crate::AppError::RateLimited {
        retry_after_seconds: decision.retry_after.map_or(1, |wait| wait.as_secs().max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
