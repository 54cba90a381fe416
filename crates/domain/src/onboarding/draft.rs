//! What a person typed on their current step and has not submitted yet, and their
//! onboarding as stored: the state machine with that draft.

use chrono::{DateTime, Utc};

use super::{
    Onboarding, OnboardingError, OnboardingStage, OrganizationInput, PersonalInfoInput, StageData, TermsAcceptance,
    TermsInput, TransitionRefusal,
};

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
/// Every move of the state machine drops the draft (it belonged to the step left).
#[derive(Debug, Clone)]
pub struct OnboardingRecord {
    pub progress: Onboarding,
    pub draft: Option<StageDraft>,
}

/// Why a draft cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftRefusal {
    /// Onboarding is over.
    Finished(OnboardingError),
    /// The draft is for another step than the current one.
    NotTheCurrentStep(OnboardingStage),
}

impl OnboardingRecord {
    /// Keeps unvalidated input for the current step (a new version, the step unchanged).
    pub fn keep_draft(&mut self, draft: StageDraft, now: DateTime<Utc>) -> Result<(), DraftRefusal> {
        if self.progress.is_completed() {
            return Err(DraftRefusal::Finished(OnboardingError::Refused {
                from: OnboardingStage::Completed,
                to: draft.stage(),
                reason: TransitionRefusal::Final,
            }));
        }
        if draft.stage() != self.progress.stage {
            return Err(DraftRefusal::NotTheCurrentStep(self.progress.stage));
        }
        self.draft = Some(draft);
        self.progress.version += 1;
        self.progress.updated_at = now;
        Ok(())
    }

    /// The current step done with `data`; one step forward.
    pub fn advance(&mut self, data: StageData, now: DateTime<Utc>) -> Result<OnboardingStage, OnboardingError> {
        let stage = self.progress.advance(data, now)?;
        self.draft = None;
        Ok(stage)
    }

    /// Back to an earlier step to edit it.
    pub fn go_back(&mut self, to: OnboardingStage, now: DateTime<Utc>) -> Result<(), OnboardingError> {
        self.progress.go_back(to, now)?;
        self.draft = None;
        Ok(())
    }

    /// Finished, with the terms accepted.
    pub fn complete(&mut self, terms: Option<TermsAcceptance>, now: DateTime<Utc>) -> Result<(), OnboardingError> {
        self.progress.complete(terms, now)?;
        self.draft = None;
        Ok(())
    }
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

    #[test]
    fn a_draft_is_kept_for_the_current_step_only_and_a_move_drops_it() {
        let now = Utc::now();
        let mut record = OnboardingRecord {
            progress: Onboarding::start(crate::UserId::from_uuid(uuid::Uuid::nil()), now),
            draft: None,
        };
        let wrong = record.keep_draft(StageDraft::Terms(TermsInput::default()), now);
        assert_eq!(wrong, Err(DraftRefusal::NotTheCurrentStep(OnboardingStage::Started)));
        record.advance(StageData::Started, now).expect("started");
        let version = record.progress.version;
        record
            .keep_draft(StageDraft::PersonalInfo(PersonalInfoInput::default()), now)
            .expect("kept");
        assert_eq!(record.progress.version, version + 1, "a draft is a new version");
        assert_eq!(
            record.progress.stage,
            OnboardingStage::PersonalInfo,
            "the step is unchanged"
        );
        record.go_back(OnboardingStage::Started, now).expect("back");
        assert!(record.draft.is_none(), "a move drops the draft");
    }
}
