//! The fake store's tenant exports, and a person's erasure.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{ExportStatus, TenantExport, TenantExportId, TenantId};

use super::store::{FakeTransaction, in_scope, owned};
use crate::TenantScope;
use crate::ports::{StoreError, StoreResult, TenantExportRepository};

#[async_trait]
impl TenantExportRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, export: &TenantExport) -> StoreResult<()> {
        owned(scope, export.tenant_id)?;
        let mut state = self.state();
        if state.exports.iter().any(|(e, _)| e.id == export.id) {
            return Err(StoreError::Duplicate("id"));
        }
        state.exports.push((export.clone(), None));
        Ok(())
    }

    async fn find(&self, scope: &TenantScope, id: TenantExportId) -> StoreResult<Option<TenantExport>> {
        Ok(self
            .state()
            .exports
            .iter()
            .find(|(e, _)| in_scope(scope, e.tenant_id) && e.id == id)
            .map(|(e, _)| e.clone()))
    }

    async fn latest(&self, scope: &TenantScope, limit: u32) -> StoreResult<Vec<TenantExport>> {
        let mut found: Vec<TenantExport> = self
            .state()
            .exports
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id))
            .map(|(e, _)| e.clone())
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn claim(
        &self,
        scope: &TenantScope,
        id: TenantExportId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<TenantExport>> {
        let mut state = self.state();
        let Some((export, lease)) = state
            .exports
            .iter_mut()
            .find(|(e, _)| in_scope(scope, e.tenant_id) && e.id == id)
        else {
            return Ok(None);
        };
        let free = export.status == ExportStatus::Queued
            || (export.status == ExportStatus::Running && lease.is_some_and(|l| l < now));
        if !free {
            return Ok(None);
        }
        export.status = ExportStatus::Running;
        export.started_at = Some(now);
        *lease = Some(lease_until);
        Ok(Some(export.clone()))
    }

    async fn save(
        &self,
        scope: &TenantScope,
        export: &TenantExport,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        owned(scope, export.tenant_id)?;
        let mut state = self.state();
        let stored = state
            .exports
            .iter_mut()
            .find(|(e, _)| e.tenant_id == export.tenant_id && e.id == export.id)
            .ok_or(StoreError::NotFound)?;
        if stored.0.started_at != export.started_at {
            return Err(StoreError::Stale);
        }
        *stored = (export.clone(), lease_until);
        Ok(())
    }

    async fn due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<(TenantId, TenantExportId)>> {
        let state = self.state();
        let mut due: Vec<&TenantExport> = state
            .exports
            .iter()
            .filter(|(e, lease)| match e.status {
                ExportStatus::Queued => true,
                ExportStatus::Running => lease.is_some_and(|l| l < now),
                ExportStatus::Completed => e.expires_at.is_some_and(|at| at <= now),
                ExportStatus::Failed | ExportStatus::Expired => false,
            })
            .map(|(e, _)| e)
            .collect();
        due.sort_by_key(|e| e.created_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|e| (e.tenant_id, e.id))
            .collect())
    }
}

/// The fake store's `UserRepository::anonymise`.
pub(super) fn anonymise(
    state: &mut super::store::State,
    id: tessera_domain::UserId,
    email: &tessera_domain::Email,
    name: &tessera_domain::DisplayName,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let user = state
        .users
        .iter_mut()
        .find(|u| u.id == id)
        .ok_or(StoreError::NotFound)?;
    user.email = email.clone();
    user.display_name = name.clone();
    user.password_hash = tessera_domain::PasswordHash::new(String::new());
    user.email_verified_at = None;
    user.is_platform_admin = false;
    user.updated_at = at;
    for session in state.sessions.iter_mut().filter(|s| s.user_id == id) {
        session.ip = None;
        session.user_agent = None;
    }
    state.onboarding.retain(|o| o.progress.user_id != id);
    state.user_tokens.retain(|t| t.user_id != id);
    Ok(())
}
