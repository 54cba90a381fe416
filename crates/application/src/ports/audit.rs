//! The audit trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::{Page, PageRequest, TenantScope};

/// What [`AuditRepository::list`] may filter on (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail. Appending is the only write: rows are never updated or deleted
/// by the application (Postgres refuses it to the runtime role).
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends to the event's chain: its tenant's (the transaction must have entered
    /// that tenant), or the platform's when it has none. Concurrent appends to one
    /// chain are serialized by the chain head's row lock.
    async fn append(&self, event: &tessera_domain::NewAuditEvent) -> StoreResult<()>;
    /// [`AuditRepository::append`], and the outbox entry announcing the event (a domain
    /// event) in the same write: one statement where the store can (PostgreSQL). The
    /// entry must belong to the event's tenant.
    async fn append_announcing(
        &self,
        event: &tessera_domain::NewAuditEvent,
        announcement: &super::OutboxEvent,
    ) -> StoreResult<()>;
    /// A tenant's events, oldest first, keyset-paginated over `(occurred_at, id)`.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::AuditEvent>>;
    async fn count(&self, scope: &TenantScope, filter: &AuditFilter) -> StoreResult<u64>;
    /// Across every chain: the events the person did (as a user or a platform
    /// administrator), in chain and sequence order after `after`, for that person's own
    /// data export; the transaction must be entered for that person
    /// ([`Transaction::enter_user`](super::Transaction::enter_user)).
    async fn by_actor(
        &self,
        actor: tessera_domain::UserId,
        after: Option<(Uuid, i64)>,
        limit: u32,
    ) -> StoreResult<Vec<tessera_domain::AuditEvent>>;
}
