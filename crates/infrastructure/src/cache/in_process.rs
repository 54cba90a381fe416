//! The in-process access cache: for a single server (development, tests, one
//! replica). A per-process generation, moved on by every invalidation, keeps access
//! read before a change from being stored after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use tessera_application::ports::{AccessCache, AccessLookup, ApiKeyLookup, CachedApiKey, MemberAccess};
use tessera_domain::{ApiKeyId, Role, RoleId, SessionId, TenantId, UserId};

use super::{API_KEY, MEMBER_ACCESS, ROLE, count};

/// In-process: for a single server (development, tests, one replica).
pub struct InProcessAccessCache {
    entries: Cache<(TenantId, UserId), MemberAccess>,
    api_keys: Cache<(TenantId, ApiKeyId), CachedApiKey>,
    /// Each role with the generation of the request that read it.
    roles: Cache<(TenantId, RoleId), (Role, u64)>,
    revoked_sessions: Cache<SessionId, ()>,
    /// Moves on with every invalidation; a lookup answers it as its generation.
    generation: AtomicU64,
    /// The generation each tenant was last invalidated at, kept longer than any
    /// request lasts: access read under an older generation is not stored.
    invalidated: Cache<TenantId, u64>,
}

impl InProcessAccessCache {
    /// `revocation_ttl` must be at least the access-token lifetime.
    pub fn new(ttl: Duration, capacity: u64, revocation_ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .support_invalidation_closures()
                .build(),
            api_keys: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .support_invalidation_closures()
                .build(),
            roles: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .support_invalidation_closures()
                .build(),
            revoked_sessions: Cache::builder().time_to_live(revocation_ttl).build(),
            generation: AtomicU64::new(0),
            invalidated: Cache::builder()
                .time_to_live(ttl.max(Duration::from_secs(60)) * 2)
                .max_capacity(capacity)
                .build(),
        }
    }

    /// The tenant was invalidated after `generation`: what was read then is outdated.
    async fn stale(&self, tenant_id: TenantId, generation: u64) -> bool {
        self.invalidated.get(&tenant_id).await.is_some_and(|at| at > generation)
    }
}

#[async_trait]
impl AccessCache for InProcessAccessCache {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess> {
        count(self.entries.get(&(tenant_id, user_id)).await, MEMBER_ACCESS, "memory")
    }

    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess, generation: u64) {
        if self.stale(tenant_id, generation).await {
            return;
        }
        self.entries.insert((tenant_id, user_id), access.clone()).await;
        // An invalidation that landed between the check and the insert drops it again.
        if self.stale(tenant_id, generation).await {
            self.entries.invalidate(&(tenant_id, user_id)).await;
        }
    }

    async fn lookup(&self, tenant_id: TenantId, user_id: UserId, session_id: SessionId) -> AccessLookup {
        // Read before the entry: an invalidation landing in between makes a later put
        // of what this request reads stale, never the other way round.
        let generation = self.generation.load(Ordering::SeqCst);
        if self.is_session_revoked(session_id).await {
            return AccessLookup {
                revoked: true,
                ..AccessLookup::MISS
            };
        }
        AccessLookup {
            revoked: false,
            access: self.get(tenant_id, user_id).await,
            generation,
        }
    }

    async fn get_api_key(&self, tenant_id: TenantId, key_id: ApiKeyId) -> ApiKeyLookup {
        let generation = self.generation.load(Ordering::SeqCst);
        ApiKeyLookup {
            key: count(self.api_keys.get(&(tenant_id, key_id)).await, API_KEY, "memory"),
            generation,
        }
    }

    async fn put_api_key(&self, key: &CachedApiKey, generation: u64) {
        let id = (key.key.tenant_id, key.key.id);
        if self.stale(key.key.tenant_id, generation).await {
            return;
        }
        self.api_keys.insert(id, key.clone()).await;
        if self.stale(key.key.tenant_id, generation).await {
            self.api_keys.invalidate(&id).await;
        }
    }

    async fn roles(&self, tenant_id: TenantId, ids: &[RoleId], _generation: u64) -> Vec<Role> {
        // An invalidation drops the tenant's entries and a put read before it is
        // refused; a role kept under a generation the tenant was invalidated after
        // (a put racing the invalidation) does not count either.
        let stale_from = self.invalidated.get(&tenant_id).await.unwrap_or(0);
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let kept = self.roles.get(&(tenant_id, *id)).await;
            let current = kept.filter(|(_, stamp)| *stamp >= stale_from).map(|(role, _)| role);
            if let Some(role) = count(current, ROLE, "memory") {
                found.push(role);
            }
        }
        found
    }

    async fn put_roles(&self, tenant_id: TenantId, roles: &[Role], generation: u64) {
        if generation == u64::MAX || self.stale(tenant_id, generation).await {
            return;
        }
        // A put racing an invalidation needs no undoing: `roles` reads the stamp.
        for role in roles.iter().filter(|role| role.tenant_id == tenant_id) {
            self.roles
                .insert((tenant_id, role.id), (role.clone(), generation))
                .await;
        }
    }

    async fn invalidate_tenant(&self, tenant_id: TenantId) {
        let at = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.invalidated.insert(tenant_id, at).await;
        let members = self
            .entries
            .invalidate_entries_if(move |(tenant, _), _| *tenant == tenant_id);
        let keys = self
            .api_keys
            .invalidate_entries_if(move |(tenant, _), _| *tenant == tenant_id);
        let roles = self
            .roles
            .invalidate_entries_if(move |(tenant, _), _| *tenant == tenant_id);
        if let Err(error) = members.and(keys).and(roles) {
            // Without predicate support nothing targeted can be dropped: drop everything.
            tracing::warn!(%error, "targeted cache invalidation failed; clearing the whole cache");
            self.entries.invalidate_all();
            self.api_keys.invalidate_all();
            self.roles.invalidate_all();
        }
    }

    async fn revoke_session(&self, session_id: SessionId) {
        self.revoked_sessions.insert(session_id, ()).await;
    }

    async fn is_session_revoked(&self, session_id: SessionId) -> bool {
        self.revoked_sessions.contains_key(&session_id)
    }
}
