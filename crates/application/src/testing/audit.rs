//! The fake store's audit trail: appended events, each chain numbered from 1.

use async_trait::async_trait;
use uuid::Uuid;

use super::store::*;
use crate::ports::StoreResult;
use crate::{Page, PageRequest, TenantScope};

#[async_trait]
impl crate::ports::AuditRepository for FakeTransaction {
    async fn append(&self, event: &tessera_domain::NewAuditEvent) -> StoreResult<()> {
        // As row level security would: a tenant's event needs the transaction in that tenant.
        if let Some(tenant) = event.tenant_id {
            let entered = *self.entered.lock().expect("fake transaction lock");
            assert_eq!(
                entered,
                Some(tenant),
                "`{}` appended outside its tenant's transaction",
                event.action
            );
        }
        self.state().audit.push(event.clone());
        Ok(())
    }
    async fn append_announcing(
        &self,
        event: &tessera_domain::NewAuditEvent,
        announcement: &crate::ports::OutboxEvent,
    ) -> StoreResult<()> {
        use crate::ports::OutboxRepository;
        assert_eq!(
            event.tenant_id,
            Some(announcement.tenant_id),
            "an announcement of another tenant's event"
        );
        self.append(event).await?;
        self.record(&TenantScope::new(announcement.tenant_id), announcement)
            .await
    }
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &crate::ports::AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::AuditEvent>> {
        // Each tenant's chain numbers its own events from 1, like the real chains.
        let events: Vec<tessera_domain::AuditEvent> = self
            .state()
            .audit
            .iter()
            .filter(|e| e.tenant_id == Some(scope.tenant_id()))
            .enumerate()
            .filter(|(_, e)| audit_matches(filter, e))
            .map(|(n, e)| tessera_domain::AuditEvent {
                id: Uuid::from_u128(n as u128 + 1),
                sequence: n as i64 + 1,
                event: e.clone(),
                previous_hash: String::new(),
                hash: String::new(),
            })
            .collect();
        Ok(keyset_page(events, page, |e| (e.event.occurred_at, e.id)))
    }
    async fn count(&self, scope: &TenantScope, filter: &crate::ports::AuditFilter) -> StoreResult<u64> {
        Ok(self
            .state()
            .audit
            .iter()
            .filter(|e| e.tenant_id == Some(scope.tenant_id()) && audit_matches(filter, e))
            .count() as u64)
    }
    async fn by_actor(
        &self,
        actor: tessera_domain::UserId,
        after: Option<(Uuid, i64)>,
        limit: u32,
    ) -> StoreResult<Vec<tessera_domain::AuditEvent>> {
        // Each chain numbers its own events from 1; chains in id order, as the real store.
        let state = self.state();
        let mut chains: std::collections::BTreeMap<Uuid, Vec<&tessera_domain::NewAuditEvent>> = Default::default();
        for event in &state.audit {
            let chain = event.tenant_id.map_or(Uuid::nil(), |t| t.as_uuid());
            chains.entry(chain).or_default().push(event);
        }
        let after = after.unwrap_or((Uuid::nil(), -1));
        Ok(chains
            .into_iter()
            .flat_map(|(chain, events)| {
                events.into_iter().enumerate().map(move |(n, e)| (chain, n as i64 + 1, e))
            })
            .filter(|(chain, sequence, e)| {
                (*chain, *sequence) > after
                    && matches!(e.actor, tessera_domain::AuditActor::User(id) | tessera_domain::AuditActor::PlatformAdmin(id) if id == actor)
            })
            .take(limit as usize)
            .map(|(_, sequence, e)| tessera_domain::AuditEvent {
                id: Uuid::from_u128(sequence as u128),
                sequence,
                event: e.clone(),
                previous_hash: String::new(),
                hash: String::new(),
            })
            .collect())
    }
}

/// The audit filter, as the real store applies it (`from` inclusive, `to` exclusive).
fn audit_matches(filter: &crate::ports::AuditFilter, event: &tessera_domain::NewAuditEvent) -> bool {
    filter.actor_id.is_none_or(|actor| event.actor.id() == Some(actor))
        && filter.action.as_deref().is_none_or(|action| action == event.action)
        && filter
            .target_type
            .as_deref()
            .is_none_or(|kind| kind == event.target_type)
        && filter
            .target_id
            .as_deref()
            .is_none_or(|id| event.target_id.as_deref() == Some(id))
        && filter.from.is_none_or(|from| event.occurred_at >= from)
        && filter.to.is_none_or(|to| event.occurred_at < to)
}
