//! What a person typed on their current step and has not submitted yet, and their
//! onboarding as stored: the state machine with that draft.

use super::{Onboarding, OnboardingStage, OrganizationInput, PersonalInfoInput, TermsInput};

/// Unvalidated input for one step, kept so a half-filled form survives a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageDraft {
    PersonalInfo(PersonalInfoInput),
    Organization(OrganizationInput),
    Terms(TermsInput),
}

impl StageDraft {
    /// The step the draft is for.
    pub fn stage(&self) -> OnboardingStage {
        match self {
            StageDraft::PersonalInfo(_) => OnboardingStage::PersonalInfo,
            StageDraft::Organization(_) => OnboardingStage::Organization,
            StageDraft::Terms(_) => OnboardingStage::Terms,
        }
    }
}

/// A user's onboarding progress as stored: the state machine and the current draft.
#[derive(Debug, Clone)]
pub struct OnboardingRecord {
    pub progress: Onboarding,
    pub draft: Option<StageDraft>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_belongs_to_its_step() {
        assert_eq!(
            StageDraft::PersonalInfo(PersonalInfoInput::default()).stage(),
            OnboardingStage::PersonalInfo
        );
        assert_eq!(
            StageDraft::Organization(OrganizationInput::default()).stage(),
            OnboardingStage::Organization
        );
        assert_eq!(StageDraft::Terms(TermsInput::default()).stage(), OnboardingStage::Terms);
    }
}
