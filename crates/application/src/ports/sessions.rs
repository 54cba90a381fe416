//! Log-in sessions (refresh-token families).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{AuditOrigin, Session, SessionId, TenantId, UserId};

use super::StoreResult;
use crate::{Page, PageRequest};

/// A log-in session: the refresh-token family a token pair belongs to.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub current_tenant_id: TenantId,
    pub refresh_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When a second factor was proved for it (at log-in), if it was.
    pub second_factor_at: Option<DateTime<Utc>>,
}

/// Sessions are global (a user's, across tenants). Each holds the digest of its
/// current refresh token; digests of tokens already exchanged are kept so that a
/// replayed token is recognised as such.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn insert(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_by_id(&self, id: SessionId) -> StoreResult<Option<Session>>;
    /// The session whose *current* refresh token has this digest.
    async fn find_by_refresh_digest(&self, digest: &str) -> StoreResult<Option<Session>>;
    /// The session a *previously exchanged* refresh token belonged to.
    async fn find_by_used_refresh_digest(&self, digest: &str) -> StoreResult<Option<SessionId>>;
    /// Swaps the current refresh token (only if it still is `old_digest`: `NotFound`
    /// otherwise, e.g. after a concurrent refresh) and remembers the old one as used.
    /// The client's user agent and IP, where known, replace the recorded ones.
    async fn rotate(
        &self,
        id: SessionId,
        old_digest: &str,
        new_digest: &str,
        tenant_id: TenantId,
        client: &AuditOrigin,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn revoke(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Records that the session proved a second factor at `at`.
    async fn mark_second_factor(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes every live session of the user; returns their ids.
    async fn revoke_all_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionId>>;
    /// Revokes the user's live sessions whose current tenant is the scope's; returns
    /// their ids.
    async fn revoke_for_user_in_tenant(
        &self,
        user_id: UserId,
        scope: &crate::TenantScope,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>>;
    async fn count_live_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Live sessions of the user, keyset-paged over `(created_at, id)`.
    async fn list_live_for_user(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Session>>;
}
