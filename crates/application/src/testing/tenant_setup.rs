//! Custom domains, onboarding progress and tenant settings in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{TenantId, UserId};

use crate::TenantScope;
use crate::ports::{StoreError, StoreResult};

use super::store::*;

#[async_trait]
impl crate::ports::CustomDomainRepository for FakeTransaction {
    async fn list(&self, scope: &TenantScope) -> StoreResult<Vec<tessera_domain::CustomDomain>> {
        let mut rows: Vec<_> = self
            .state()
            .custom_domains
            .iter()
            .filter(|d| in_scope(scope, d.tenant_id))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.created_at, a.domain.as_str()).cmp(&(b.created_at, b.domain.as_str())));
        Ok(rows)
    }
    async fn find(
        &self,
        scope: &TenantScope,
        domain: &tessera_domain::DomainName,
    ) -> StoreResult<Option<tessera_domain::CustomDomain>> {
        Ok(find_in(&self.state().custom_domains, scope, |d| &d.domain == domain))
    }
    async fn insert(&self, scope: &TenantScope, claim: &tessera_domain::CustomDomain) -> StoreResult<()> {
        owned(scope, claim.tenant_id)?;
        let mut state = self.state();
        if state
            .custom_domains
            .iter()
            .any(|d| d.tenant_id == claim.tenant_id && d.domain == claim.domain)
        {
            return Err(StoreError::Duplicate("domain"));
        }
        state.custom_domains.push(claim.clone());
        Ok(())
    }
    async fn mark_verified(
        &self,
        scope: &TenantScope,
        domain: &tessera_domain::DomainName,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .custom_domains
            .iter()
            .any(|d| !in_scope(scope, d.tenant_id) && &d.domain == domain && d.is_verified())
        {
            return Err(StoreError::Duplicate("domain"));
        }
        let claim = find_mut(&mut state.custom_domains, scope, |d| &d.domain == domain).ok_or(StoreError::NotFound)?;
        claim.verified_at = Some(at);
        claim.verification_token.clear();
        Ok(())
    }
    async fn delete(&self, scope: &TenantScope, domain: &tessera_domain::DomainName) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.custom_domains.len();
        state
            .custom_domains
            .retain(|d| !(in_scope(scope, d.tenant_id) && &d.domain == domain));
        if state.custom_domains.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn find_verified_owner(&self, domain: &tessera_domain::DomainName) -> StoreResult<Option<TenantId>> {
        Ok(self
            .state()
            .custom_domains
            .iter()
            .find(|d| &d.domain == domain && d.is_verified())
            .map(|d| d.tenant_id))
    }
}

#[async_trait]
impl crate::ports::OnboardingRepository for FakeTransaction {
    async fn find(&self, user_id: UserId) -> StoreResult<Option<tessera_domain::OnboardingRecord>> {
        Ok(self
            .state()
            .onboarding
            .iter()
            .find(|r| r.progress.user_id == user_id)
            .cloned())
    }
    async fn insert(&self, record: &tessera_domain::OnboardingRecord) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .onboarding
            .iter()
            .any(|r| r.progress.user_id == record.progress.user_id)
        {
            return Err(StoreError::Duplicate("onboarding"));
        }
        state.onboarding.push(record.clone());
        Ok(())
    }
    async fn save(&self, record: &tessera_domain::OnboardingRecord, expected_version: i64) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .onboarding
            .iter_mut()
            .find(|r| r.progress.user_id == record.progress.user_id && r.progress.version == expected_version)
            .ok_or(StoreError::NotFound)?;
        *stored = record.clone();
        Ok(())
    }
    async fn is_completed(&self, user_id: UserId) -> StoreResult<bool> {
        Ok(self
            .state()
            .onboarding
            .iter()
            .any(|r| r.progress.user_id == user_id && r.progress.is_completed()))
    }
    async fn funnel(&self, scope: &TenantScope) -> StoreResult<crate::ports::OnboardingFunnel> {
        use tessera_domain::OnboardingStage;
        let state = self.state();
        let mut by_stage: Vec<(OnboardingStage, u64)> = OnboardingStage::ALL.iter().map(|s| (*s, 0)).collect();
        let mut durations = Vec::new();
        for member in state
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.is_active())
        {
            let record = state.onboarding.iter().find(|r| r.progress.user_id == member.user_id);
            let stage = record.map_or(OnboardingStage::Started, |r| r.progress.stage);
            if let Some(entry) = by_stage.iter_mut().find(|(s, _)| *s == stage) {
                entry.1 += 1;
            }
            if let Some(done) = record.and_then(|r| r.progress.completed_at.map(|c| c - r.progress.started_at)) {
                durations.push(done.num_milliseconds() as f64 / 1000.0);
            }
        }
        durations.sort_by(f64::total_cmp);
        let median = match durations.len() {
            0 => None,
            n if n % 2 == 1 => Some(durations[n / 2]),
            n => Some((durations[n / 2 - 1] + durations[n / 2]) / 2.0),
        };
        let members = by_stage.iter().map(|(_, n)| n).sum();
        let completed = by_stage[by_stage.len() - 1].1;
        Ok(crate::ports::OnboardingFunnel {
            by_stage,
            members,
            completed,
            median_seconds_to_complete: median,
        })
    }
}

#[async_trait]
impl crate::ports::TenantSettingsRepository for FakeTransaction {
    async fn find(&self, scope: &TenantScope) -> StoreResult<Option<tessera_domain::TenantSettings>> {
        Ok(self
            .state()
            .tenant_settings
            .iter()
            .find(|s| in_scope(scope, s.tenant_id))
            .cloned())
    }
    async fn upsert(
        &self,
        scope: &TenantScope,
        previous: &tessera_domain::TenantSettings,
        settings: &tessera_domain::TenantSettings,
    ) -> StoreResult<()> {
        owned(scope, settings.tenant_id)?;
        let mut state = self.state();
        let mut stored = state
            .tenant_settings
            .iter()
            .find(|s| s.tenant_id == settings.tenant_id)
            .cloned()
            .unwrap_or_else(|| previous.clone());
        macro_rules! changed {
            ($($field:ident),*) => {$(
                if settings.$field != previous.$field {
                    stored.$field = settings.$field.clone();
                }
            )*};
        }
        changed!(logo_url, primary_colour, locale, time_zone, company_size, industry);
        stored.updated_at = settings.updated_at;
        state.tenant_settings.retain(|s| s.tenant_id != settings.tenant_id);
        state.tenant_settings.push(stored);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::BillingEventRepository for FakeTransaction {
    async fn seen(&self, scope: &TenantScope, id: &str) -> StoreResult<bool> {
        Ok(self
            .state()
            .billing_events
            .iter()
            .any(|e| in_scope(scope, e.tenant_id) && e.id == id))
    }
    async fn record(&self, scope: &TenantScope, record: &crate::ports::BillingEventRecord) -> StoreResult<()> {
        owned(scope, record.tenant_id)?;
        let mut state = self.state();
        if state
            .billing_events
            .iter()
            .any(|e| e.tenant_id == record.tenant_id && e.id == record.id)
        {
            return Err(StoreError::Duplicate("id"));
        }
        state.billing_events.push(record.clone());
        Ok(())
    }
    async fn latest_applied(&self, scope: &TenantScope) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .state()
            .billing_events
            .iter()
            .filter(|e| in_scope(scope, e.tenant_id) && e.applied)
            .map(|e| e.occurred_at)
            .max())
    }
}
