//! Access caches behind the application's `AccessCache` port: in-process (one
//! server) or Redis (shared by every replica, so an invalidation on one is seen by
//! all). Keys always include the tenant. A cache that cannot answer is a miss, and
//! entries expire after a short TTL even if an invalidation is lost.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::AsyncCommands;
use moka::future::Cache;
use tessera_application::ports::{
    AccessCache, AccessLookup, ApiKeyLookup, BucketsFor, CachedApiKey, KeyBucketsFor, MemberAccess, SpendingLookup,
};
use tessera_domain::{ApiKeyId, Role, RoleId, SessionId, TenantId, UserId};
use tracing::Instrument as _;

use crate::redis_pool::Redis;
use crate::telemetry;

mod codec;
mod generation;
mod in_process;
mod spending;

use codec::{decode, encode};
use generation::{ABSENT, GenerationScripts, stamp};

pub use in_process::InProcessAccessCache;

/// Redis, with an in-process layer in front. Redis keeps one hash per tenant
/// (`tessera:access:<tenant>`, field = user) and a per-tenant generation
/// (`tessera:access-gen:<tenant>`, never read as absent: see `generation`), which
/// every invalidation bumps. An authentication reads the session's revocation mark
/// and the generation in one round trip; a local entry counts only if it was stored under the current generation,
/// so a change made on any replica applies on every replica's next request. Each
/// invalidation is also published (`tessera:access-invalidations`): every replica
/// drops that tenant's local entries as soon as the message arrives.
pub struct RedisAccessCache {
    pool: Pool,
    ttl: Duration,
    revocation_ttl: Duration,
    local: Cache<(TenantId, UserId), (MemberAccess, i64)>,
    /// Verified API keys, local only, stamped with the generation they were read under.
    api_keys: Cache<(TenantId, ApiKeyId), (CachedApiKey, i64)>,
    /// The tenants' roles, local only, stamped with the generation they were read under.
    roles: Cache<(TenantId, RoleId), (Role, i64)>,
    listener: Option<tokio::task::JoinHandle<()>>,
    generations: GenerationScripts,
    /// The session and generation checks and the rate-limit spending in one script.
    spend_if_current: deadpool_redis::redis::Script,
    /// The same for a kept API key (the generation check and the spending).
    key_spend_if_current: deadpool_redis::redis::Script,
}

const INVALIDATIONS: &str = "tessera:access-invalidations";

impl Drop for RedisAccessCache {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

/// Drops a tenant's local entries whenever another replica invalidates it;
/// reconnects with back-off. Correctness does not depend on it (the generation
/// check does): it keeps local entries from outliving their use.
async fn listen(client: deadpool_redis::redis::Client, local: LocalLayer) {
    use futures_util::StreamExt;
    let mut delay = Duration::from_millis(250);
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await
            && pubsub.subscribe(INVALIDATIONS).await.is_ok()
        {
            delay = Duration::from_millis(250);
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                if let Ok(tenant) = TenantId::parse(&payload) {
                    local.drop_tenant(tenant);
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The local entries of every kind, for dropping a tenant's from all of them at once.
#[derive(Clone)]
struct LocalLayer {
    access: Cache<(TenantId, UserId), (MemberAccess, i64)>,
    api_keys: Cache<(TenantId, ApiKeyId), (CachedApiKey, i64)>,
    roles: Cache<(TenantId, RoleId), (Role, i64)>,
}

impl LocalLayer {
    fn drop_tenant(&self, tenant: TenantId) {
        let _ = self.access.invalidate_entries_if(move |(t, _), _| *t == tenant);
        let _ = self.api_keys.invalidate_entries_if(move |(t, _), _| *t == tenant);
        let _ = self.roles.invalidate_entries_if(move |(t, _), _| *t == tenant);
    }
}

fn local_cache<K, V>(ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .time_to_live(ttl)
        .max_capacity(100_000)
        .support_invalidation_closures()
        .build()
}

impl RedisAccessCache {
    fn layer(&self) -> LocalLayer {
        LocalLayer {
            access: self.local.clone(),
            api_keys: self.api_keys.clone(),
            roles: self.roles.clone(),
        }
    }

    /// `revocation_ttl` must be at least the access-token lifetime.
    pub fn new(redis: &Redis, ttl: Duration, revocation_ttl: Duration) -> Self {
        let mut cache = Self {
            pool: redis.pool().clone(),
            ttl,
            revocation_ttl,
            local: local_cache(ttl),
            api_keys: local_cache(ttl),
            roles: local_cache(ttl),
            generations: GenerationScripts::new(),
            spend_if_current: spending::script(),
            key_spend_if_current: spending::key_script(),
            listener: None,
        };
        let layer = cache.layer();
        cache.listener = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime.spawn(listen(redis.client().clone(), layer)));
        cache
    }

    /// A pooled Redis connection; none (logged) when Redis cannot be reached, and the
    /// request reads from the database instead.
    async fn connection(&self) -> Option<deadpool_redis::Connection> {
        match self.pool.get().await {
            Ok(connection) => Some(connection),
            Err(error) => {
                tracing::warn!(%error, "access cache unavailable; reading from the database");
                None
            }
        }
    }

    fn key(tenant_id: TenantId) -> String {
        format!("tessera:access:{tenant_id}")
    }

    fn generation_key(tenant_id: TenantId) -> String {
        format!("tessera:access-gen:{tenant_id}")
    }

    fn revoked_key(session_id: SessionId) -> String {
        format!("tessera:revoked-session:{session_id}")
    }
}

impl RedisAccessCache {
    /// The member's access as kept under the tenant's current `generation` (which a
    /// round trip just read): locally, else in the tenant's Redis hash.
    async fn found_under(
        &self,
        connection: &mut deadpool_redis::Connection,
        tenant_id: TenantId,
        user_id: UserId,
        generation: i64,
    ) -> AccessLookup {
        let ticket = u64::try_from(generation).unwrap_or(0);
        let local = self
            .local
            .get(&(tenant_id, user_id))
            .await
            .filter(|(_, stored)| *stored == generation)
            .map(|(access, _)| access);
        if let Some(access) = count(local, MEMBER_ACCESS, "local") {
            return AccessLookup {
                revoked: false,
                access: Some(access),
                generation: ticket,
            };
        }
        let raw: Option<String> = match connection.hget(Self::key(tenant_id), user_id.to_string()).await {
            Ok(raw) => raw,
            Err(error) => {
                tracing::warn!(%error, "access cache read failed; reading from the database");
                return AccessLookup {
                    generation: ticket,
                    ..AccessLookup::MISS
                };
            }
        };
        let found = count(raw.as_deref().and_then(decode), MEMBER_ACCESS, "redis");
        if let Some(access) = &found {
            self.local
                .insert((tenant_id, user_id), (access.clone(), generation))
                .await;
        }
        AccessLookup {
            revoked: false,
            access: found,
            generation: ticket,
        }
    }
}

const MEMBER_ACCESS: &str = "member_access";
const API_KEY: &str = "api_key";
const ROLE: &str = "role";

/// Counts a lookup of one kind of entry in one layer as a hit or a miss.
fn count<T>(found: Option<T>, kind: &'static str, layer: &'static str) -> Option<T> {
    let result = if found.is_some() { "hit" } else { "miss" };
    metrics::counter!("tessera_cache_requests_total", "kind" => kind, "result" => result, "layer" => layer)
        .increment(1);
    found
}

#[async_trait]
impl AccessCache for RedisAccessCache {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess> {
        let mut connection = self.connection().await?;
        let raw: Option<String> = match connection
            .hget(Self::key(tenant_id), user_id.to_string())
            .instrument(telemetry::redis_call("HGET access"))
            .await
        {
            Ok(raw) => raw,
            Err(error) => {
                tracing::warn!(%error, "access cache read failed; reading from the database");
                return None;
            }
        };
        count(raw.as_deref().and_then(decode), MEMBER_ACCESS, "redis")
    }

    async fn lookup(&self, tenant_id: TenantId, user_id: UserId, session_id: SessionId) -> AccessLookup {
        // Unanswered: not revoked as far as the cache knows; the database path checks the session.
        let Some(mut connection) = self.connection().await else {
            return AccessLookup::UNANSWERED;
        };
        let marks: Result<(i64, i64), _> = self
            .generations
            .lookup
            .key(Self::revoked_key(session_id))
            .key(Self::generation_key(tenant_id))
            .invoke_async(&mut connection)
            .instrument(telemetry::redis_call("EVALSHA session access"))
            .await;
        let (revoked, generation) = match marks {
            Ok(marks) => marks,
            Err(error) => {
                tracing::warn!(%error, "access cache read failed; reading from the database");
                return AccessLookup::UNANSWERED;
            }
        };
        if revoked == 1 {
            return AccessLookup {
                revoked: true,
                ..AccessLookup::MISS
            };
        }
        self.found_under(&mut connection, tenant_id, user_id, generation).await
    }

    async fn lookup_spending(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_id: SessionId,
        buckets: &BucketsFor<'_>,
    ) -> SpendingLookup {
        self.lookup_and_spend(tenant_id, user_id, session_id, buckets).await
    }

    async fn get_api_key_spending(
        &self,
        tenant_id: TenantId,
        key_id: ApiKeyId,
        buckets: &KeyBucketsFor<'_>,
    ) -> SpendingLookup<ApiKeyLookup> {
        self.get_api_key_and_spend(tenant_id, key_id, buckets).await
    }

    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess, generation: u64) {
        // Stored under the generation this request's lookup saw, locally and in Redis
        // alike: when an invalidation has landed since (a change committed while this
        // request read the database), the Redis write is refused and the local entry
        // never matches a lookup again.
        let Some(generation) = stamp(generation) else {
            return;
        };
        self.local
            .insert((tenant_id, user_id), (access.clone(), generation))
            .await;
        let Ok(mut connection) = self.pool.get().await else {
            return;
        };
        let result: Result<i64, _> = self
            .generations
            .put_if_current
            .key(Self::key(tenant_id))
            .key(Self::generation_key(tenant_id))
            .arg(generation)
            .arg(user_id.to_string())
            .arg(encode(access))
            .arg(self.ttl.as_secs().max(1))
            .invoke_async(&mut connection)
            .instrument(telemetry::redis_call("EVALSHA put access"))
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "access cache write failed");
        }
    }

    async fn get_api_key(&self, tenant_id: TenantId, key_id: ApiKeyId) -> ApiKeyLookup {
        // One round trip: the tenant's generation decides whether the local entry counts.
        // Read without seeding (see `generation`): absent is a number no key is kept under.
        let generation: i64 = match self.pool.get().await {
            Ok(mut connection) => match connection
                .get::<_, Option<i64>>(Self::generation_key(tenant_id))
                .instrument(telemetry::redis_call("GET generation"))
                .await
            {
                Ok(generation) => generation.unwrap_or(ABSENT),
                Err(error) => {
                    tracing::warn!(%error, "access cache read failed; reading from the database");
                    return ApiKeyLookup {
                        key: None,
                        generation: u64::MAX,
                    };
                }
            },
            Err(error) => {
                tracing::warn!(%error, "access cache unavailable; reading from the database");
                return ApiKeyLookup {
                    key: None,
                    generation: u64::MAX,
                };
            }
        };
        let found = self
            .api_keys
            .get(&(tenant_id, key_id))
            .await
            .filter(|(_, stored)| *stored == generation)
            .map(|(key, _)| key);
        ApiKeyLookup {
            key: count(found, API_KEY, "local"),
            generation: u64::try_from(generation).unwrap_or(u64::MAX),
        }
    }

    async fn put_api_key(&self, key: &CachedApiKey, generation: u64) {
        // Stamped with the generation this request's lookup saw: after an invalidation
        // since, no lookup matches it (and one the cache could not read stores nothing
        // a lookup would match). A lookup that found the generation absent: the key was
        // verified since, so its tenant is real and the generation is seeded now, unless
        // it appeared meanwhile (then the key is not kept).
        let generation = match stamp(generation) {
            Some(generation) => generation,
            None if generation == ABSENT as u64 => {
                let Ok(mut connection) = self.pool.get().await else {
                    return;
                };
                let seeded: Result<i64, _> = self
                    .generations
                    .seed_if_absent
                    .key(Self::generation_key(key.key.tenant_id))
                    .invoke_async(&mut connection)
                    .instrument(telemetry::redis_call("EVALSHA seed generation"))
                    .await;
                match seeded {
                    Ok(seeded) if seeded != ABSENT => seeded,
                    _ => return,
                }
            }
            None => return,
        };
        self.api_keys
            .insert((key.key.tenant_id, key.key.id), (key.clone(), generation))
            .await;
    }

    async fn roles(&self, tenant_id: TenantId, ids: &[RoleId], generation: u64) -> Vec<Role> {
        // The generation came from this request's lookup: a role kept under it was read
        // after the tenant's last change (on any replica).
        let Some(generation) = stamp(generation) else {
            return Vec::new();
        };
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let kept = self.roles.get(&(tenant_id, *id)).await;
            let current = kept.filter(|(_, stored)| *stored == generation).map(|(role, _)| role);
            if let Some(role) = count(current, ROLE, "local") {
                found.push(role);
            }
        }
        found
    }

    async fn put_roles(&self, tenant_id: TenantId, roles: &[Role], generation: u64) {
        let Some(generation) = stamp(generation) else {
            return;
        };
        for role in roles.iter().filter(|role| role.tenant_id == tenant_id) {
            self.roles
                .insert((tenant_id, role.id), (role.clone(), generation))
                .await;
        }
    }

    async fn invalidate_tenant(&self, tenant_id: TenantId) {
        self.layer().drop_tenant(tenant_id);
        let result = match self.pool.get().await {
            Ok(mut connection) => self
                .generations
                .invalidate
                .key(Self::key(tenant_id))
                .key(Self::generation_key(tenant_id))
                .arg(INVALIDATIONS)
                .arg(tenant_id.to_string())
                .invoke_async::<()>(&mut connection)
                .instrument(telemetry::redis_call("EVALSHA invalidate access"))
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            // Entries of this tenant may now be stale until their TTL runs out.
            tracing::error!(%error, %tenant_id, "access cache invalidation failed");
        }
    }

    async fn revoke_session(&self, session_id: SessionId) {
        let result = match self.pool.get().await {
            Ok(mut connection) => connection
                .set_ex::<_, _, ()>(Self::revoked_key(session_id), 1, self.revocation_ttl.as_secs().max(1))
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            // The session row is revoked; other replicas see it when their cached entry expires.
            tracing::error!(%error, %session_id, "recording a session revocation in Redis failed");
        }
    }

    async fn is_session_revoked(&self, session_id: SessionId) -> bool {
        let Ok(mut connection) = self.pool.get().await else {
            return false;
        };
        connection
            .exists::<_, bool>(Self::revoked_key(session_id))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
pub(crate) mod tests;
