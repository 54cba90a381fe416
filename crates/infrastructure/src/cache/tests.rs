use super::*;
use tessera_domain::{Allowance, Permission, PermissionSet, RequestLimits};

#[test]
fn cached_access_round_trips_through_its_text_form() {
    let access = MemberAccess {
        role_id: RoleId::from_uuid(uuid::Uuid::now_v7()),
        permissions: [Permission::MembersRead, Permission::RolesManage].into_iter().collect(),
        onboarded: true,
        limits: RequestLimits {
            requests_per_minute: Allowance::AtMost(3_000),
            max_query_complexity: Allowance::Unlimited,
            max_query_depth: Allowance::AtMost(12),
            api_calls_per_month: Allowance::AtMost(100_000),
            trusted_documents_required: true,
            workspaces: Some(Allowance::AtMost(25)),
            valid_until: chrono::DateTime::from_timestamp_millis(1_800_000_000_123),
        },
        mfa_required: true,
    };
    assert_eq!(decode(&encode(&access)), Some(access.clone()));
    let without_requirement = encode(&access).trim_end_matches("|1").to_owned();
    assert_eq!(
        decode(&without_requirement),
        None,
        "the form before the requirement: read afresh"
    );
    let empty = MemberAccess {
        role_id: RoleId::from_uuid(uuid::Uuid::nil()),
        permissions: PermissionSet::default(),
        onboarded: false,
        limits: RequestLimits::UNBOUNDED,
        mfa_required: false,
    };
    assert_eq!(decode(&encode(&empty)), Some(empty));
    assert_eq!(decode("garbage"), None);
    assert_eq!(decode("not-a-uuid|members:read|1"), None);
    assert_eq!(
        decode(&format!("{}|members:read", uuid::Uuid::nil())),
        None,
        "the old two-part form"
    );
    assert_eq!(
        decode(&format!("{}|members:read|1|team", uuid::Uuid::nil())),
        None,
        "the form that named the plan: read afresh"
    );
    assert_eq!(
        decode(&format!("{}||1|many|-|-|0", uuid::Uuid::nil())),
        None,
        "a limit that is not a number"
    );
}

/// Two replicas' caches on the Redis named by `TEST_REDIS_URL`.
pub(crate) fn redis_for_tests() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "TEST_REDIS_URL is not set, and CI=true forbids skipping the Redis tests"
            );
            eprintln!("SKIPPED: TEST_REDIS_URL is not set");
            None
        }
    }
}

/// One replica's cache (its own pool) on the test Redis.
fn replica(url: &str) -> RedisAccessCache {
    let ttl = Duration::from_secs(60);
    RedisAccessCache::new(&Redis::connect(url).expect("pool"), ttl, ttl)
}

/// A new tenant, person and session, and the person's access.
fn member() -> (TenantId, UserId, SessionId, MemberAccess) {
    (
        TenantId::from_uuid(uuid::Uuid::now_v7()),
        UserId::from_uuid(uuid::Uuid::now_v7()),
        SessionId::from_uuid(uuid::Uuid::now_v7()),
        MemberAccess {
            role_id: RoleId::from_uuid(uuid::Uuid::now_v7()),
            permissions: PermissionSet::all(),
            onboarded: true,
            limits: RequestLimits::UNBOUNDED,
            mfa_required: false,
        },
    )
}

/// What a lookup of these answers, without its generation.
fn seen(lookup: AccessLookup) -> (bool, Option<MemberAccess>) {
    (lookup.revoked, lookup.access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_on_one_replica_outdates_every_local_layer_at_once() {
    let Some(url) = redis_for_tests() else {
        return;
    };
    let (a, b) = (replica(&url), replica(&url));
    let (tenant, user, session, access) = member();
    let missed = a.lookup(tenant, user, session).await;
    assert_eq!(seen(missed.clone()), (false, None));
    a.put(tenant, user, &access, missed.generation).await;
    assert_eq!(
        seen(a.lookup(tenant, user, session).await),
        (false, Some(access.clone()))
    );
    assert!(a.local.get(&(tenant, user)).await.is_some(), "kept in the local layer");

    // Replica B invalidates: A's very next lookup misses, whatever pub/sub's timing.
    b.invalidate_tenant(tenant).await;
    let missed = a.lookup(tenant, user, session).await;
    assert_eq!(seen(missed.clone()), (false, None));
    // And the published message soon drops A's local entries altogether.
    a.put(tenant, user, &access, missed.generation).await;
    assert!(a.local.get(&(tenant, user)).await.is_some());
    b.invalidate_tenant(tenant).await;
    let mut dropped = false;
    for _ in 0..50 {
        a.local.run_pending_tasks().await;
        if a.local.get(&(tenant, user)).await.is_none() {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped, "the invalidation reached the other replica through pub/sub");

    a.revoke_session(session).await;
    assert_eq!(
        seen(b.lookup(tenant, user, session).await),
        (true, None),
        "revocations are shared"
    );
}

/// A request that read a member's access before a change committed (and the tenant was
/// invalidated) must not store it after: no replica may find it then, even when
/// another request looked the tenant up in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_read_before_an_invalidation_is_not_stored_after_it() {
    let Some(url) = redis_for_tests() else {
        return;
    };
    let (a, b) = (replica(&url), replica(&url));
    let (tenant, user, session, access) = member();
    // A's request misses and reads the database; meanwhile a change commits on B, and
    // another request on A looks the tenant up.
    let before = a.lookup(tenant, user, session).await;
    assert_eq!(seen(before.clone()), (false, None));
    b.invalidate_tenant(tenant).await;
    let after = a.lookup(tenant, user, session).await;
    a.put(tenant, user, &access, before.generation).await;
    let fresh = replica(&url);
    assert_eq!(
        seen(fresh.lookup(tenant, user, session).await),
        (false, None),
        "not in Redis"
    );
    assert_eq!(seen(a.lookup(tenant, user, session).await), (false, None), "nor on A");
    // The request that started after the change stores what it reads.
    a.put(tenant, user, &access, after.generation).await;
    assert_eq!(seen(fresh.lookup(tenant, user, session).await), (false, Some(access)));
}

/// The same on one server without Redis.
#[tokio::test]
async fn in_process_access_read_before_an_invalidation_is_not_stored_after_it() {
    let cache = InProcessAccessCache::new(Duration::from_secs(60), 100, Duration::from_secs(60));
    let (tenant, user, session, access) = member();
    let before = cache.lookup(tenant, user, session).await;
    cache.invalidate_tenant(tenant).await;
    let after = cache.lookup(tenant, user, session).await;
    cache.put(tenant, user, &access, before.generation).await;
    assert_eq!(seen(cache.lookup(tenant, user, session).await), (false, None));
    cache.put(tenant, user, &access, after.generation).await;
    assert_eq!(
        seen(cache.lookup(tenant, user, session).await),
        (false, Some(access.clone()))
    );
    // Another tenant's invalidation does not outdate this one's readers.
    let other = TenantId::from_uuid(uuid::Uuid::now_v7());
    let (_, someone, _, _) = member();
    let reader = cache.lookup(tenant, someone, session).await;
    cache.invalidate_tenant(other).await;
    cache.put(tenant, someone, &access, reader.generation).await;
    assert_eq!(cache.get(tenant, someone).await, Some(access));
}

#[tokio::test]
async fn in_process_invalidation_drops_only_the_tenant() {
    let cache = InProcessAccessCache::new(Duration::from_secs(60), 100, Duration::from_secs(60));
    let (a, b) = (
        TenantId::from_uuid(uuid::Uuid::now_v7()),
        TenantId::from_uuid(uuid::Uuid::now_v7()),
    );
    let user = UserId::from_uuid(uuid::Uuid::now_v7());
    let access = MemberAccess {
        role_id: RoleId::from_uuid(uuid::Uuid::nil()),
        permissions: PermissionSet::all(),
        onboarded: true,
        limits: RequestLimits {
            requests_per_minute: Allowance::AtMost(3_000),
            max_query_complexity: Allowance::Unlimited,
            max_query_depth: Allowance::AtMost(12),
            api_calls_per_month: Allowance::AtMost(100_000),
            trusted_documents_required: true,
            workspaces: Some(Allowance::Unlimited),
            valid_until: None,
        },
        mfa_required: false,
    };
    cache.put(a, user, &access, 0).await;
    cache.put(b, user, &access, 0).await;
    cache.invalidate_tenant(a).await;
    assert_eq!(cache.get(a, user).await, None);
    assert_eq!(cache.get(b, user).await, Some(access));
}

/// A verified key of a new tenant, as authentication caches it.
fn cached_key() -> CachedApiKey {
    let now = chrono::Utc::now();
    CachedApiKey {
        key: tessera_domain::ApiKey {
            id: ApiKeyId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            name: tessera_domain::Name::parse("partner").expect("name"),
            permissions: PermissionSet::all(),
            secret_digest: "digest".into(),
            created_by: UserId::from_uuid(uuid::Uuid::now_v7()),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: Some(now),
        },
        limits: RequestLimits::UNBOUNDED,
    }
}

/// A key read before its revocation committed (and the tenant was invalidated) is not
/// cached after it, on one server or with Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_read_before_an_invalidation_is_not_cached_after_it() {
    let in_process = InProcessAccessCache::new(Duration::from_secs(60), 100, Duration::from_secs(60));
    let mut caches: Vec<Box<dyn AccessCache>> = vec![Box::new(in_process)];
    if let Some(url) = redis_for_tests() {
        caches.push(Box::new(replica(&url)));
    }
    for cache in caches {
        let key = cached_key();
        let (tenant, id) = (key.key.tenant_id, key.key.id);
        let before = cache.get_api_key(tenant, id).await;
        assert_eq!(before.key, None);
        cache.invalidate_tenant(tenant).await;
        let after = cache.get_api_key(tenant, id).await;
        cache.put_api_key(&key, before.generation).await;
        assert_eq!(cache.get_api_key(tenant, id).await.key, None, "the outdated read");
        cache.put_api_key(&key, after.generation).await;
        assert_eq!(
            cache.get_api_key(tenant, id).await.key,
            Some(key),
            "a read after the change"
        );
    }
}

/// A custom role of the tenant.
fn role_of(tenant: TenantId, name: &str) -> Role {
    Role {
        id: RoleId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: tenant,
        name: tessera_domain::Name::parse(name).expect("name"),
        system: None,
        permissions: [Permission::MembersRead].into_iter().collect(),
        created_at: chrono::Utc::now(),
    }
}

/// Roles kept under one lookup's generation: found under it, gone for every request
/// after the tenant's next invalidation on any replica, never kept from a read that
/// began before it, and never across tenants.
async fn roles_follow_the_tenants_generation(a: &dyn AccessCache, b: &dyn AccessCache) {
    let (tenant, user, session, _) = member();
    let editor = role_of(tenant, "Editor");
    let foreign = role_of(TenantId::from_uuid(uuid::Uuid::now_v7()), "Foreign");
    let before = a.lookup(tenant, user, session).await;
    assert!(a.roles(tenant, &[editor.id], before.generation).await.is_empty());
    a.put_roles(tenant, &[editor.clone(), foreign.clone()], before.generation)
        .await;
    assert_eq!(
        a.roles(tenant, &[editor.id, foreign.id], before.generation).await,
        vec![editor.clone()]
    );
    assert!(
        a.roles(foreign.tenant_id, &[foreign.id], before.generation)
            .await
            .is_empty(),
        "another tenant's role is not kept, under either tenant"
    );

    b.invalidate_tenant(tenant).await;
    let after = a.lookup(tenant, user, session).await;
    assert!(
        a.roles(tenant, &[editor.id], after.generation).await.is_empty(),
        "the next request reads the role afresh"
    );
    // A request that looked up before the change and read the role then keeps nothing
    // a later request would find.
    a.put_roles(tenant, std::slice::from_ref(&editor), before.generation)
        .await;
    assert!(a.roles(tenant, &[editor.id], after.generation).await.is_empty());
    a.put_roles(tenant, std::slice::from_ref(&editor), after.generation)
        .await;
    assert_eq!(
        a.roles(tenant, &[editor.id], after.generation).await,
        vec![editor.clone()]
    );
    // A lookup the cache could not answer has no generation to keep anything under.
    let unanswered = AccessLookup::UNANSWERED.generation;
    let other = role_of(tenant, "Other");
    a.put_roles(tenant, std::slice::from_ref(&other), unanswered).await;
    assert!(a.roles(tenant, &[other.id], after.generation).await.is_empty());
    assert!(a.roles(tenant, &[other.id], unanswered).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_kept_on_one_replica_are_outdated_by_an_invalidation_on_another() {
    let Some(url) = redis_for_tests() else {
        return;
    };
    roles_follow_the_tenants_generation(&replica(&url), &replica(&url)).await;
}

#[tokio::test]
async fn in_process_roles_are_outdated_by_an_invalidation() {
    let cache = InProcessAccessCache::new(Duration::from_secs(60), 100, Duration::from_secs(60));
    roles_follow_the_tenants_generation(&cache, &cache).await;
}

/// With the member's access kept on this replica, the lookup spends the request's
/// buckets in its own round trip; an ended session or a tenant changed on another
/// replica spends nothing (the request then goes the usual way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_spends_the_buckets_only_for_a_live_session_of_a_current_entry() {
    use tessera_application::ports::RateLimiter as _;
    use tessera_domain::rate_limit::Quota;
    let Some(url) = redis_for_tests() else {
        return;
    };
    let (a, b) = (replica(&url), replica(&url));
    let limiter = crate::rate_limits::RedisRateLimiter::new(&Redis::connect(&url).expect("pool"));
    let (tenant, user, session, access) = member();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let (narrow, wide) = (format!("narrow-{run}"), format!("wide-{run}"));
    let buckets = |_: &MemberAccess| {
        vec![
            (narrow.clone(), Quota::per_minute(2)),
            (wide.clone(), Quota::per_minute(10)),
        ]
    };

    // Nothing kept here yet: the plain lookup, nothing spent.
    let first = a.lookup_spending(tenant, user, session, &buckets).await;
    assert_eq!((first.lookup.access.clone(), first.spent.clone()), (None, None));
    a.put(tenant, user, &access, first.lookup.generation).await;

    let spent = a.lookup_spending(tenant, user, session, &buckets).await;
    assert_eq!(spent.lookup.access, Some(access.clone()));
    let decisions = spent.spent.expect("spent with the lookup");
    assert_eq!(decisions.len(), 2);
    assert!(decisions.iter().all(|d| d.allowed));
    assert_eq!((decisions[0].remaining, decisions[1].remaining), (1, 9));
    // The same buckets the rate limiter spends: one left in the narrow one, then none.
    assert_eq!(limiter.acquire(&narrow, Quota::per_minute(2)).await.remaining, 0);
    let refused = a.lookup_spending(tenant, user, session, &buckets).await;
    let decisions = refused.spent.expect("spent with the lookup");
    assert_eq!(decisions.len(), 1, "the refusal stops the walk");
    assert!(!decisions[0].allowed);
    assert_eq!(limiter.acquire(&wide, Quota::per_minute(10)).await.remaining, 8);

    // Another replica changes the tenant: the entry no longer counts, nothing is spent.
    b.invalidate_tenant(tenant).await;
    let changed = a.lookup_spending(tenant, user, session, &buckets).await;
    assert_eq!((changed.lookup.access, changed.spent), (None, None));
    assert_eq!(limiter.acquire(&wide, Quota::per_minute(10)).await.remaining, 7);

    // Kept again, then the session ends: refused as ended, nothing spent.
    a.put(tenant, user, &access, changed.lookup.generation).await;
    b.revoke_session(session).await;
    let ended = a.lookup_spending(tenant, user, session, &buckets).await;
    assert!(ended.lookup.revoked);
    assert_eq!((ended.lookup.access, ended.spent), (None, None));
    assert_eq!(limiter.acquire(&wide, Quota::per_minute(10)).await.remaining, 6);
}

/// Redis losing its keys (a restart without persistence, a flush) must not bring back
/// what a replica kept before: its local entries were stamped with generations that
/// the lost keys can never take again, so the next lookups read afresh (and a session
/// ended before the loss, its revocation mark lost too, is checked in the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_kept_before_redis_lost_its_keys_are_not_trusted_after() {
    let Some(url) = redis_for_tests() else {
        return;
    };
    let a = replica(&url);
    let (tenant, user, session, access) = member();
    let buckets = |_: &MemberAccess| Vec::new();
    let lose_the_tenants_keys = || async {
        let mut connection = Redis::connect(&url).expect("pool").pool().get().await.expect("redis");
        let _: () = deadpool_redis::redis::cmd("DEL")
            .arg(RedisAccessCache::key(tenant))
            .arg(RedisAccessCache::generation_key(tenant))
            .arg(RedisAccessCache::revoked_key(session))
            .query_async(&mut connection)
            .await
            .expect("DEL");
    };

    // Kept under the tenant's first generation, then Redis loses everything.
    let first = a.lookup(tenant, user, session).await;
    a.put(tenant, user, &access, first.generation).await;
    assert_eq!(
        seen(a.lookup(tenant, user, session).await),
        (false, Some(access.clone()))
    );
    lose_the_tenants_keys().await;
    let after = a.lookup(tenant, user, session).await;
    assert_eq!(seen(after.clone()), (false, None), "the local entry no longer counts");
    assert_ne!(after.generation, first.generation);

    // Kept again; an invalidation moves the generation on, Redis loses it again, and
    // the next invalidation must not land on the number the entry was kept under.
    a.put(tenant, user, &access, after.generation).await;
    a.invalidate_tenant(tenant).await;
    let stale = a.lookup(tenant, user, session).await;
    a.put(tenant, user, &access, stale.generation).await;
    lose_the_tenants_keys().await;
    a.invalidate_tenant(tenant).await;
    let again = a.lookup_spending(tenant, user, session, &buckets).await;
    assert_eq!((again.lookup.access, again.spent), (None, None));
    assert!(!again.lookup.revoked);
    let key = a.get_api_key(tenant, ApiKeyId::from_uuid(uuid::Uuid::now_v7())).await;
    assert_eq!(
        key.generation, again.lookup.generation,
        "API keys read the same generation"
    );
}

/// A kept API key's generation check and its request's spending share one round trip;
/// a key the caller declines to spend for, or one outdated by another replica's
/// invalidation, spends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_key_spends_its_buckets_only_while_it_is_current() {
    use tessera_application::ports::RateLimiter as _;
    use tessera_domain::rate_limit::Quota;
    let Some(url) = redis_for_tests() else {
        return;
    };
    let (a, b) = (replica(&url), replica(&url));
    let limiter = crate::rate_limits::RedisRateLimiter::new(&Redis::connect(&url).expect("pool"));
    let key = cached_key();
    let (tenant, id) = (key.key.tenant_id, key.key.id);
    let run = uuid::Uuid::now_v7().simple().to_string();
    let (narrow, wide) = (format!("narrow-{run}"), format!("wide-{run}"));
    let buckets = |_: &CachedApiKey| {
        Some(vec![
            (narrow.clone(), Quota::per_minute(2)),
            (wide.clone(), Quota::per_minute(10)),
        ])
    };
    let declined = |_: &CachedApiKey| None;

    // Not kept yet: the plain lookup, nothing spent.
    let first = a.get_api_key_spending(tenant, id, &buckets).await;
    assert_eq!((first.lookup.key.clone(), first.spent.clone()), (None, None));
    a.put_api_key(&key, first.lookup.generation).await;

    let spent = a.get_api_key_spending(tenant, id, &buckets).await;
    assert_eq!(spent.lookup.key, Some(key.clone()));
    assert_eq!(spent.lookup.generation, a.get_api_key(tenant, id).await.generation);
    let decisions = spent.spent.expect("spent with the lookup");
    assert_eq!((decisions[0].remaining, decisions[1].remaining), (1, 9));
    assert_eq!(limiter.acquire(&narrow, Quota::per_minute(2)).await.remaining, 0);
    let refused = a.get_api_key_spending(tenant, id, &buckets).await;
    let decisions = refused.spent.expect("spent with the lookup");
    assert_eq!(decisions.len(), 1, "the refusal stops the walk");
    assert!(!decisions[0].allowed);

    // Declined (the key would not answer by itself): found, nothing spent.
    let plain = a.get_api_key_spending(tenant, id, &declined).await;
    assert_eq!((plain.lookup.key, plain.spent), (Some(key.clone()), None));
    assert_eq!(limiter.acquire(&wide, Quota::per_minute(10)).await.remaining, 8);

    // Another replica changes the tenant: the kept key no longer counts, nothing spent.
    b.invalidate_tenant(tenant).await;
    let changed = a.get_api_key_spending(tenant, id, &buckets).await;
    assert_eq!((changed.lookup.key, changed.spent), (None, None));
    assert_ne!(changed.lookup.generation, spent.lookup.generation);
    assert_eq!(limiter.acquire(&wide, Quota::per_minute(10)).await.remaining, 7);
}

/// An API key's lookup names its tenant before the key is verified: it must write
/// nothing to Redis (else any made-up key would leave a key there). The generation is
/// seeded when a verified key is kept, unless it appeared in between; and nothing is
/// ever kept under the generation an absent key reads as.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_keys_lookup_writes_nothing_until_the_key_is_verified() {
    let Some(url) = redis_for_tests() else {
        return;
    };
    let a = replica(&url);
    let exists = |tenant: TenantId| {
        let url = url.clone();
        async move {
            let mut connection = Redis::connect(&url).expect("pool").pool().get().await.expect("redis");
            connection
                .exists::<_, bool>(RedisAccessCache::generation_key(tenant))
                .await
                .expect("EXISTS")
        }
    };
    let key = cached_key();
    let (tenant, id) = (key.key.tenant_id, key.key.id);
    let spend = |_: &CachedApiKey| Some(Vec::new());
    let absent = a.get_api_key(tenant, id).await;
    assert_eq!(absent.key, None);
    let _ = a.get_api_key_spending(tenant, id, &spend).await;
    assert!(!exists(tenant).await, "a lookup seeded the generation");

    // Nothing is kept under what an absent generation reads as.
    let role = role_of(tenant, "Reviewer");
    a.put_roles(tenant, std::slice::from_ref(&role), absent.generation)
        .await;
    assert!(a.roles(tenant, &[role.id], absent.generation).await.is_empty());

    // The verified key is kept: the generation is seeded then.
    a.put_api_key(&key, absent.generation).await;
    assert!(exists(tenant).await);
    let found = a.get_api_key(tenant, id).await;
    assert_eq!(found.key, Some(key.clone()));
    assert_ne!(found.generation, absent.generation);

    // Found absent, then another replica invalidated the tenant: not kept.
    let other = cached_key();
    let absent = a.get_api_key(other.key.tenant_id, other.key.id).await;
    replica(&url).invalidate_tenant(other.key.tenant_id).await;
    a.put_api_key(&other, absent.generation).await;
    assert_eq!(a.get_api_key(other.key.tenant_id, other.key.id).await.key, None);
}
