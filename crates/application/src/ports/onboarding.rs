//! People's onboarding progress.

use async_trait::async_trait;
use tessera_domain::{OnboardingRecord, OnboardingStage, UserId};

use super::StoreResult;
use crate::TenantScope;

/// Onboarding progress of a tenant's active members, computed by the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnboardingFunnel {
    /// Members per stage, every stage listed (members who never began count as `Started`).
    pub by_stage: Vec<(OnboardingStage, u64)>,
    pub members: u64,
    pub completed: u64,
    pub median_seconds_to_complete: Option<f64>,
}

/// Onboarding progress is the user's own (one row per user, across tenants).
#[async_trait]
pub trait OnboardingRepository: Send + Sync {
    async fn find(&self, user_id: UserId) -> StoreResult<Option<OnboardingRecord>>;
    /// `Duplicate("onboarding")` when the user already has progress.
    async fn insert(&self, record: &OnboardingRecord) -> StoreResult<()>;
    /// Saves only if the stored version is still `expected_version` (`NotFound` otherwise:
    /// someone saved in between). The record carries the new version.
    async fn save(&self, record: &OnboardingRecord, expected_version: i64) -> StoreResult<()>;
    async fn is_completed(&self, user_id: UserId) -> StoreResult<bool>;
    async fn funnel(&self, scope: &TenantScope) -> StoreResult<OnboardingFunnel>;
}
