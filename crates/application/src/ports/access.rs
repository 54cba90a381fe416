//! What authentication and admission keep between requests: cached access, verified API keys, rate-limit buckets and failed-attempt counts.

use async_trait::async_trait;
use tessera_domain::{PermissionSet, Role, RoleId, SessionId, TenantId, UserId};

/// What the authentication path needs to know about a member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccess {
    pub role_id: RoleId,
    pub permissions: PermissionSet,
    /// The user finished onboarding (until then, tenant work may be gated).
    pub onboarded: bool,
    /// What the tenant's plan bounds on every request (rate, query size, documents).
    pub limits: tessera_domain::RequestLimits,
    /// The tenant requires a second factor of its members' sessions.
    pub mfa_required: bool,
}

/// An API key whose secret was verified, with its tenant's plan: what the next request
/// with the same key needs, without a database round trip. A usable key's permissions
/// are already cut down to what its creator holds; a revoked or expired key is kept
/// too, so presenting it again costs no database work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedApiKey {
    pub key: tessera_domain::ApiKey,
    pub limits: tessera_domain::RequestLimits,
}

/// Counts requests per bucket (GCRA, see [`tessera_domain::rate_limit::gcra`]). Never fails:
/// an adapter that loses its backend falls back to counting in process.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn acquire(
        &self,
        key: &str,
        quota: tessera_domain::rate_limit::Quota,
    ) -> tessera_domain::rate_limit::RateDecision;

    /// Whether the bucket refuses right now, as far as this process knows without a
    /// round trip or spending anything: `Some(retry after)` when it does. In process
    /// this is exact; a shared store answers with the refusals this process saw lately.
    async fn known_refusal(&self, key: &str, quota: tessera_domain::rate_limit::Quota) -> Option<std::time::Duration>;

    /// Takes one request from each bucket in order and stops at the first that refuses
    /// (the buckets after it are not spent): one decision per bucket looked at. An
    /// adapter may do it in one round trip.
    async fn acquire_in_order(
        &self,
        buckets: &[(String, tessera_domain::rate_limit::Quota)],
    ) -> Vec<tessera_domain::rate_limit::RateDecision> {
        let mut decisions = Vec::with_capacity(buckets.len());
        for (key, quota) in buckets {
            let decision = self.acquire(key, *quota).await;
            let refused = !decision.allowed;
            decisions.push(decision);
            if refused {
                break;
            }
        }
        decisions
    }
}

/// Remembers [`MemberAccess`] between requests. Every use case that changes roles or
/// memberships invalidates the tenant, so a change applies on the member's next
/// request. Adapters never fail the request: a cache that cannot answer is a miss.
#[async_trait]
pub trait AccessCache: Send + Sync {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess>;
    /// Stores access read from the database after `lookup` missed, with the
    /// generation that lookup answered: when the tenant was invalidated since (a change
    /// committed while the request read), the access read before it is not stored.
    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess, generation: u64);
    /// A verified API key of the tenant, as stored by `put_api_key`, and the tenant's
    /// generation to store a key read afresh under.
    async fn get_api_key(&self, tenant_id: TenantId, key_id: tessera_domain::ApiKeyId) -> ApiKeyLookup;
    /// Stores a key read from the database after `get_api_key`, with the generation it
    /// answered: when the tenant was invalidated since (the key revoked or its creator
    /// changed meanwhile), it is not stored.
    async fn put_api_key(&self, key: &CachedApiKey, generation: u64);
    /// Those of `ids` among the tenant's roles (with their permissions) that `put_roles`
    /// kept under `generation`, an authentication lookup's: once the tenant is
    /// invalidated (every change to a role is), none of what was kept before counts.
    async fn roles(&self, tenant_id: TenantId, ids: &[RoleId], generation: u64) -> Vec<Role>;
    /// Keeps roles read from the database under the generation the request's
    /// authentication saw: when the tenant was invalidated since, they are not kept.
    async fn put_roles(&self, tenant_id: TenantId, roles: &[Role], generation: u64);
    /// Forgets every member, role and API key of the tenant.
    async fn invalidate_tenant(&self, tenant_id: TenantId);
    /// Marks a session revoked, so its access tokens stop working before they expire
    /// (kept at least as long as an access token lives).
    async fn revoke_session(&self, session_id: SessionId);
    async fn is_session_revoked(&self, session_id: SessionId) -> bool;
    /// Both checks of an authentication, is the session revoked and the member's cached
    /// access (one round trip where the backend allows it), and the tenant's
    /// generation to store fresh access under.
    async fn lookup(&self, tenant_id: TenantId, user_id: UserId, session_id: SessionId) -> AccessLookup;
    /// [`AccessCache::lookup`], and for access it finds current, one request from each
    /// of the rate-limit buckets `buckets` names for it, in order, stopping at the first
    /// refusal (as [`RateLimiter::acquire_in_order`]), in the same round trip where the
    /// backend allows. Nothing is spent for an ended session or for access not found
    /// (`spent` is `None`: the request is admitted through the rate limiter as usual).
    async fn lookup_spending(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_id: SessionId,
        buckets: &BucketsFor<'_>,
    ) -> SpendingLookup {
        let _ = buckets;
        SpendingLookup {
            lookup: self.lookup(tenant_id, user_id, session_id).await,
            spent: None,
        }
    }
    /// [`AccessCache::get_api_key`], and when the key is kept and `buckets` names the
    /// buckets a request with it draws from (it answers `None` for a key that would not
    /// answer the request by itself), one request from each, in order, stopping at the
    /// first refusal, in the same round trip where the backend allows. Nothing is spent
    /// for a key not found or not current.
    async fn get_api_key_spending(
        &self,
        tenant_id: TenantId,
        key_id: tessera_domain::ApiKeyId,
        buckets: &KeyBucketsFor<'_>,
    ) -> SpendingLookup<ApiKeyLookup> {
        let _ = buckets;
        SpendingLookup {
            lookup: self.get_api_key(tenant_id, key_id).await,
            spent: None,
        }
    }
}

/// The rate-limit buckets (key and quota, narrowest first) a member's request draws
/// from, given the member's access.
pub type BucketsFor<'a> = dyn Fn(&MemberAccess) -> Vec<(String, tessera_domain::rate_limit::Quota)> + Send + Sync + 'a;

/// The rate-limit buckets a request with a kept API key draws from, or `None` when
/// the kept key would not answer the request by itself (another secret, a key no
/// longer usable, a use due to be recorded): then nothing is spent with the lookup.
pub type KeyBucketsFor<'a> =
    dyn Fn(&CachedApiKey) -> Option<Vec<(String, tessera_domain::rate_limit::Quota)>> + Send + Sync + 'a;

/// What [`AccessCache::lookup_spending`] (or `get_api_key_spending`) found, and what
/// it spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendingLookup<L = AccessLookup> {
    pub lookup: L,
    /// One decision per bucket looked at, when the buckets were spent with the lookup.
    pub spent: Option<Vec<tessera_domain::rate_limit::RateDecision>>,
}

/// What an API key's cache lookup found, and the tenant's generation then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyLookup {
    pub key: Option<CachedApiKey>,
    pub generation: u64,
}

/// What an authentication's cache lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLookup {
    /// The session was ended.
    pub revoked: bool,
    pub access: Option<MemberAccess>,
    /// The tenant's cache generation when looked up: the ticket a `put` of access read
    /// afterwards presents (any invalidation of the tenant since makes it stale).
    pub generation: u64,
}

impl AccessLookup {
    /// Nothing known: not revoked as far as the cache knows, no access, generation 0.
    pub const MISS: AccessLookup = AccessLookup {
        revoked: false,
        access: None,
        generation: 0,
    };

    /// The cache could not answer: nothing found, and no generation to store what the
    /// request reads under (`u64::MAX`, which no put or role lookup accepts).
    pub const UNANSWERED: AccessLookup = AccessLookup {
        revoked: false,
        access: None,
        generation: u64::MAX,
    };
}

/// Counts failed attempts per key in a fixed window (log-in throttling).
#[async_trait]
pub trait AttemptLimiter: Send + Sync {
    /// Seconds until the key may try again, when it has used up `max` failures.
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64>;
    /// Records one failure for the key.
    async fn record_failure(&self, key: &str);
    /// Forgets the key's failures (after a success).
    async fn reset(&self, key: &str);
}
