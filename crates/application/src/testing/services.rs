//! Fakes of the services around the store: caches, limiters, mail, hashing, tokens,
//! the clock, ids, secrets, persisted queries and domain checks.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tessera_domain::{ApiKeyId, Password, PasswordHash, Role, RoleId, SessionId, TenantId, UserId};
use uuid::Uuid;

use crate::ports::{
    AccessCache, AccessClaims, Clock, IdGenerator, IssuedSecret, Mailer, MemberAccess, PasswordHasher, SecretGenerator,
    TokenError, TokenIssuer,
};
use crate::ports::{CachedApiKey, OutgoingMail};

/// Roles kept by the fake cache, each with its generation.
type KeptRoles = std::collections::HashMap<(TenantId, RoleId), (Role, u64)>;

/// A map, counting lookups, so tests can see hits and invalidations.
#[derive(Clone, Default)]
pub struct FakeAccessCache {
    pub entries: Arc<Mutex<std::collections::HashMap<(TenantId, UserId), MemberAccess>>>,
    pub revoked: Arc<Mutex<Vec<SessionId>>>,
    pub api_keys: Arc<Mutex<std::collections::HashMap<(TenantId, ApiKeyId), CachedApiKey>>>,
    /// Roles kept, with the generation they were kept under.
    pub roles: Arc<Mutex<KeptRoles>>,
    /// Each tenant's generation, moved on by every invalidation.
    pub generations: Arc<Mutex<std::collections::HashMap<TenantId, u64>>>,
}

impl FakeAccessCache {
    fn generation_of(&self, tenant_id: TenantId) -> u64 {
        self.generations
            .lock()
            .expect("cache lock")
            .get(&tenant_id)
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl AccessCache for FakeAccessCache {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess> {
        self.entries
            .lock()
            .expect("cache lock")
            .get(&(tenant_id, user_id))
            .cloned()
    }
    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess, generation: u64) {
        if self.generation_of(tenant_id) != generation {
            return;
        }
        self.entries
            .lock()
            .expect("cache lock")
            .insert((tenant_id, user_id), access.clone());
    }
    async fn get_api_key(&self, tenant_id: TenantId, key_id: ApiKeyId) -> crate::ports::ApiKeyLookup {
        crate::ports::ApiKeyLookup {
            key: self
                .api_keys
                .lock()
                .expect("cache lock")
                .get(&(tenant_id, key_id))
                .cloned(),
            generation: self.generation_of(tenant_id),
        }
    }
    async fn put_api_key(&self, key: &CachedApiKey, generation: u64) {
        if self.generation_of(key.key.tenant_id) != generation {
            return;
        }
        self.api_keys
            .lock()
            .expect("cache lock")
            .insert((key.key.tenant_id, key.key.id), key.clone());
    }
    async fn roles(&self, tenant_id: TenantId, ids: &[RoleId], generation: u64) -> Vec<Role> {
        if self.generation_of(tenant_id) != generation {
            return Vec::new();
        }
        let roles = self.roles.lock().expect("cache lock");
        ids.iter()
            .filter_map(|id| roles.get(&(tenant_id, *id)))
            .filter(|(_, kept)| *kept == generation)
            .map(|(role, _)| role.clone())
            .collect()
    }
    async fn put_roles(&self, tenant_id: TenantId, roles: &[Role], generation: u64) {
        if self.generation_of(tenant_id) != generation {
            return;
        }
        let mut kept = self.roles.lock().expect("cache lock");
        for role in roles.iter().filter(|role| role.tenant_id == tenant_id) {
            kept.insert((tenant_id, role.id), (role.clone(), generation));
        }
    }
    async fn invalidate_tenant(&self, tenant_id: TenantId) {
        *self
            .generations
            .lock()
            .expect("cache lock")
            .entry(tenant_id)
            .or_default() += 1;
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|(tenant, _), _| *tenant != tenant_id);
        self.api_keys
            .lock()
            .expect("cache lock")
            .retain(|(tenant, _), _| *tenant != tenant_id);
        self.roles
            .lock()
            .expect("cache lock")
            .retain(|(tenant, _), _| *tenant != tenant_id);
    }
    async fn revoke_session(&self, session_id: SessionId) {
        self.revoked.lock().expect("cache lock").push(session_id);
    }
    async fn is_session_revoked(&self, session_id: SessionId) -> bool {
        self.revoked.lock().expect("cache lock").contains(&session_id)
    }
    async fn lookup(&self, tenant_id: TenantId, user_id: UserId, session_id: SessionId) -> crate::ports::AccessLookup {
        let generation = self.generation_of(tenant_id);
        crate::ports::AccessLookup {
            revoked: self.is_session_revoked(session_id).await,
            access: self.get(tenant_id, user_id).await,
            generation,
        }
    }
}

/// Counts failures per key, without time.
#[derive(Clone, Default)]
pub struct FakeAttempts {
    pub failures: Arc<Mutex<std::collections::HashMap<String, u32>>>,
}

#[async_trait]
impl crate::ports::AttemptLimiter for FakeAttempts {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let failures = self.failures.lock().expect("attempts lock");
        (failures.get(key).copied().unwrap_or(0) >= max).then_some(60)
    }
    async fn record_failure(&self, key: &str) {
        *self
            .failures
            .lock()
            .expect("attempts lock")
            .entry(key.to_owned())
            .or_default() += 1;
    }
    async fn reset(&self, key: &str) {
        self.failures.lock().expect("attempts lock").remove(key);
    }
}

/// Keeps sent mail for inspection.
#[derive(Clone, Default)]
pub struct FakeMailer {
    pub sent: Arc<Mutex<Vec<OutgoingMail>>>,
}

#[async_trait]
impl Mailer for FakeMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        self.sent.lock().expect("mailer lock").push(mail.clone());
        Ok(())
    }
}

/// "Hashes" by prefixing; verification compares. Enough to test the use cases' flow.
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Box<dyn StdError + Send + Sync>> {
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.as_str() == format!("plain:{}", password.expose())
    }
    async fn verify_dummy(&self, _password: &Password) {}
}

/// Tokens are the claims in a readable form; `expired:` tokens are refused as expired.
pub struct ReadableTokens;

impl TokenIssuer for ReadableTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, Box<dyn StdError + Send + Sync>> {
        let factor = if claims.second_factor { "|2f" } else { "" };
        Ok(format!(
            "{}|{}|{}{factor}",
            claims.user_id, claims.tenant_id, claims.session_id
        ))
    }
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.starts_with("expired:") {
            return Err(TokenError::Expired);
        }
        let mut parts = token.split('|');
        let mut next = || parts.next().ok_or(TokenError::Invalid);
        let user_id = UserId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let tenant_id = TenantId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let session_id = tessera_domain::SessionId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let second_factor = parts.next() == Some("2f");
        let now = fixed_now();
        Ok(AccessClaims {
            user_id,
            tenant_id,
            session_id,
            issued_at: now,
            expires_at: now + Duration::minutes(15),
            second_factor,
        })
    }
}

pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("a valid fixed time")
}

pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        fixed_now()
    }
}

pub struct SequentialIds(pub(super) Mutex<u128>);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let mut next = self.0.lock().expect("id lock");
        *next += 1;
        Uuid::from_u128(*next)
    }
}

pub struct CountingSecrets(pub(super) Mutex<u32>);

impl SecretGenerator for CountingSecrets {
    fn generate(&self, prefix: &str) -> IssuedSecret {
        let mut n = self.0.lock().expect("secret lock");
        *n += 1;
        let plain = format!("{prefix}secret-{n}");
        IssuedSecret {
            digest: self.digest(&plain),
            plain,
        }
    }
    fn digest(&self, plain: &str) -> String {
        format!("digest:{plain}")
    }
    fn signing_key(&self, prefix: &str) -> String {
        let mut n = self.0.lock().expect("secret lock");
        *n += 1;
        format!("{prefix}key{n:05}")
    }
}

#[derive(Default)]
pub struct FakePersistedQueries(Mutex<std::collections::HashMap<String, String>>);

#[async_trait]
impl crate::ports::PersistedQueryStore for FakePersistedQueries {
    async fn get(&self, hash: &str) -> Option<String> {
        self.0.lock().expect("fake persisted queries lock").get(hash).cloned()
    }
    async fn put(&self, hash: &str, document: &str) {
        self.0
            .lock()
            .expect("fake persisted queries lock")
            .insert(hash.to_owned(), document.to_owned());
    }
}

/// GCRA buckets in a map, on a clock that never moves (nothing refills).
#[derive(Default)]
pub struct FakeRateLimiter {
    buckets: Mutex<std::collections::HashMap<String, i64>>,
}

#[async_trait]
impl crate::ports::RateLimiter for FakeRateLimiter {
    async fn known_refusal(&self, key: &str, quota: crate::rate_limits::Quota) -> Option<std::time::Duration> {
        let buckets = self.buckets.lock().expect("fake rate limiter lock");
        let (decision, _) = crate::rate_limits::gcra(0, Some(*buckets.get(key)?), quota);
        decision.retry_after.filter(|_| !decision.allowed)
    }

    async fn acquire(&self, key: &str, quota: crate::rate_limits::Quota) -> crate::rate_limits::RateDecision {
        let mut buckets = self.buckets.lock().expect("fake rate limiter lock");
        let (decision, store) = crate::rate_limits::gcra(0, buckets.get(key).copied(), quota);
        if let Some(tat) = store {
            buckets.insert(key.to_owned(), tat);
        }
        decision
    }
}

/// Approves a domain whose name starts with `ok.` and refuses every other.
pub struct FakeDomainVerifier;

#[async_trait]
impl crate::ports::DomainVerifier for FakeDomainVerifier {
    async fn verify(&self, domain: &tessera_domain::DomainName, _token: &str) -> Result<(), String> {
        if domain.as_str().starts_with("ok.") {
            Ok(())
        } else {
            Err("the token is not served".into())
        }
    }
}
