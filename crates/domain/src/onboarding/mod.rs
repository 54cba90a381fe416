//! User onboarding as a small state machine. The user fills in one step at a time; a
//! step's data is validated before moving on, earlier steps can be revisited, and
//! finishing needs the terms accepted. Which moves are allowed is decided only by
//! [`transition`].

mod data;
mod draft;
mod locale;
mod stage;

pub use data::{
    CompanySize, Organization, OrganizationInput, PersonalInfo, PersonalInfoInput, StageDataError, TermsAcceptance,
    TermsInput,
};
pub use draft::{DraftRefusal, OnboardingRecord, StageDraft};
pub use locale::{Locale, TimeZone};
pub use stage::{OnboardingStage, Transition, TransitionRefusal, transition};

use chrono::{DateTime, Utc};

use crate::UserId;

/// The validated data that finishes one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageData {
    Started,
    PersonalInfo(PersonalInfo),
    Organization(Organization),
    Terms(TermsAcceptance),
}

impl StageData {
    /// The stage this data belongs to.
    pub const fn stage(&self) -> OnboardingStage {
        match self {
            Self::Started => OnboardingStage::Started,
            Self::PersonalInfo(_) => OnboardingStage::PersonalInfo,
            Self::Organization(_) => OnboardingStage::Organization,
            Self::Terms(_) => OnboardingStage::Terms,
        }
    }
}

/// Why an onboarding change was refused; the state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnboardingError {
    #[error("onboarding is on the {current} step, not {given}")]
    WrongStage {
        current: OnboardingStage,
        given: OnboardingStage,
    },
    #[error("cannot move from {from} to {to}: {reason}")]
    Refused {
        from: OnboardingStage,
        to: OnboardingStage,
        reason: TransitionRefusal,
    },
    #[error("{to} does not come before {from}; moving forward needs advance")]
    NotBackward { from: OnboardingStage, to: OnboardingStage },
    #[error("the terms step is finished with complete, not advance")]
    UseComplete,
    #[error("{0}")]
    InvalidData(StageDataError),
    #[error("onboarding was changed meanwhile (expected version {expected}, found {actual})")]
    StaleVersion { expected: i64, actual: i64 },
}

/// One user's onboarding progress and the data collected so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub user_id: UserId,
    pub stage: OnboardingStage,
    /// Bumped on every change, for optimistic concurrency.
    pub version: i64,
    pub personal: Option<PersonalInfo>,
    pub organization: Option<Organization>,
    pub terms: Option<TermsAcceptance>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Onboarding {
    pub fn start(user_id: UserId, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            stage: OnboardingStage::Started,
            version: 1,
            personal: None,
            organization: None,
            terms: None,
            started_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    pub fn is_completed(&self) -> bool {
        self.stage == OnboardingStage::Completed
    }

    /// `None` skips the check (the caller did not say which version it saw).
    pub fn check_version(&self, expected: Option<i64>) -> Result<(), OnboardingError> {
        match expected {
            Some(expected) if expected != self.version => Err(OnboardingError::StaleVersion {
                expected,
                actual: self.version,
            }),
            _ => Ok(()),
        }
    }

    /// Stores the current stage's data and moves to the next stage, which is returned.
    /// The terms step is finished with [`Onboarding::complete`] instead.
    pub fn advance(&mut self, data: StageData, now: DateTime<Utc>) -> Result<OnboardingStage, OnboardingError> {
        // `Completed` has no next stage; asking the table for (Completed, Completed) refuses it as final.
        let to = self.stage.next().unwrap_or(self.stage);
        self.allow(to, Transition::Advance)?;
        if data.stage() != self.stage {
            return Err(OnboardingError::WrongStage {
                current: self.stage,
                given: data.stage(),
            });
        }
        match data {
            StageData::Started => {}
            StageData::PersonalInfo(info) => self.personal = Some(info),
            StageData::Organization(organization) => self.organization = Some(organization),
            StageData::Terms(_) => return Err(OnboardingError::UseComplete),
        }
        self.move_to(to, now);
        Ok(to)
    }

    /// Finishes onboarding from the terms step. `terms` (else the stored answer) must be accepted.
    pub fn complete(&mut self, terms: Option<TermsAcceptance>, now: DateTime<Utc>) -> Result<(), OnboardingError> {
        self.allow(OnboardingStage::Completed, Transition::Advance)?;
        match terms.or_else(|| self.terms.clone()) {
            Some(terms) if terms.accepted => {
                self.terms = Some(terms);
                self.completed_at = Some(now);
                self.move_to(OnboardingStage::Completed, now);
                Ok(())
            }
            _ => Err(OnboardingError::InvalidData(StageDataError::single(
                "accepted",
                "must be accepted to finish",
            ))),
        }
    }

    /// Returns to an earlier stage to edit it; data already given is kept.
    pub fn go_back(&mut self, to: OnboardingStage, now: DateTime<Utc>) -> Result<(), OnboardingError> {
        self.allow(to, Transition::Back)?;
        self.move_to(to, now);
        Ok(())
    }

    fn allow(&self, to: OnboardingStage, wanted: Transition) -> Result<(), OnboardingError> {
        let from = self.stage;
        match transition(from, to) {
            Transition::Refused(reason) => Err(OnboardingError::Refused { from, to, reason }),
            found if found == wanted => Ok(()),
            // Only `go_back` can get here: it was asked to move forward.
            _ => Err(OnboardingError::NotBackward { from, to }),
        }
    }

    fn move_to(&mut self, to: OnboardingStage, now: DateTime<Utc>) {
        self.stage = to;
        self.version += 1;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::OnboardingStage::{Completed, Organization as OrganizationStage, PersonalInfo as PersonalStage};
    use super::OnboardingStage::{Started, Terms};
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    fn personal(name: &str) -> StageData {
        let input = PersonalInfoInput {
            display_name: Some(name.into()),
            job_title: None,
            time_zone: Some("Europe/Paris".into()),
            locale: Some("fr-FR".into()),
        };
        StageData::PersonalInfo(input.validate().expect("valid personal info"))
    }

    fn organization() -> StageData {
        let input = OrganizationInput {
            invitation_token: Some("tok_123".into()),
            ..OrganizationInput::default()
        };
        StageData::Organization(input.validate().expect("valid organization"))
    }

    fn terms(accepted: bool, now: DateTime<Utc>) -> TermsAcceptance {
        TermsAcceptance {
            version: "2026-01".into(),
            accepted,
            accepted_at: now,
        }
    }

    /// A fresh onboarding moved forward to `stage` with valid data.
    fn at(stage: OnboardingStage, now: DateTime<Utc>) -> Onboarding {
        let mut onboarding = Onboarding::start(UserId::from_uuid(Uuid::nil()), now);
        for data in [StageData::Started, personal("Ada"), organization()] {
            if onboarding.stage < stage {
                onboarding.advance(data, now).expect("valid step");
            }
        }
        assert_eq!(onboarding.stage, stage);
        onboarding
    }

    fn refused(from: OnboardingStage, to: OnboardingStage, reason: TransitionRefusal) -> OnboardingError {
        OnboardingError::Refused { from, to, reason }
    }

    #[test]
    fn the_happy_path_ends_completed() {
        let now = Utc::now();
        let later = now + Duration::minutes(5);
        let mut onboarding = Onboarding::start(UserId::from_uuid(Uuid::nil()), now);
        assert_eq!((onboarding.stage, onboarding.version), (Started, 1));
        assert_eq!(onboarding.advance(StageData::Started, now), Ok(PersonalStage));
        assert_eq!(onboarding.advance(personal("Ada"), now), Ok(OrganizationStage));
        assert_eq!(onboarding.advance(organization(), now), Ok(Terms));
        let before = onboarding.clone();
        assert_eq!(
            onboarding.advance(StageData::Terms(terms(true, now)), later),
            Err(OnboardingError::UseComplete)
        );
        assert_eq!(onboarding, before);
        assert_eq!(onboarding.complete(Some(terms(true, later)), later), Ok(()));
        assert!(onboarding.is_completed());
        assert_eq!(
            (onboarding.version, onboarding.updated_at, onboarding.completed_at),
            (5, later, Some(later))
        );
        assert!(onboarding.personal.is_some() && onboarding.organization.is_some() && onboarding.terms.is_some());
    }

    #[test]
    fn data_for_another_stage_is_refused_and_nothing_changes() {
        let now = Utc::now();
        let mut onboarding = at(Started, now);
        let before = onboarding.clone();
        assert_eq!(
            onboarding.advance(personal("Ada"), now),
            Err(OnboardingError::WrongStage {
                current: Started,
                given: PersonalStage
            })
        );
        assert_eq!(onboarding, before);
    }

    #[test]
    fn stages_cannot_be_skipped() {
        let now = Utc::now();
        let mut onboarding = at(PersonalStage, now);
        let before = onboarding.clone();
        assert_eq!(
            onboarding.go_back(Terms, now),
            Err(refused(PersonalStage, Terms, TransitionRefusal::SkipsAhead))
        );
        assert_eq!(
            onboarding.complete(Some(terms(true, now)), now),
            Err(refused(PersonalStage, Completed, TransitionRefusal::SkipsAhead))
        );
        assert_eq!(
            onboarding.go_back(OrganizationStage, now),
            Err(OnboardingError::NotBackward {
                from: PersonalStage,
                to: OrganizationStage
            })
        );
        assert_eq!(
            onboarding.go_back(PersonalStage, now),
            Err(refused(PersonalStage, PersonalStage, TransitionRefusal::SameStage))
        );
        assert_eq!(onboarding, before);
    }

    #[test]
    fn going_back_keeps_the_data_already_given() {
        let now = Utc::now();
        let mut onboarding = at(Terms, now);
        let organization_before = onboarding.organization.clone();
        assert_eq!(onboarding.go_back(PersonalStage, now), Ok(()));
        assert_eq!((onboarding.stage, onboarding.version), (PersonalStage, 5));
        assert!(onboarding.personal.is_some() && organization_before.is_some());
        assert_eq!(onboarding.advance(personal("Grace"), now), Ok(OrganizationStage));
        let name = onboarding.personal.as_ref().map(|info| info.display_name.as_str());
        assert_eq!(name, Some("Grace"));
        assert_eq!(onboarding.organization, organization_before);
    }

    #[test]
    fn completed_is_final() {
        let now = Utc::now();
        let mut onboarding = at(Terms, now);
        assert_eq!(onboarding.complete(Some(terms(true, now)), now), Ok(()));
        let before = onboarding.clone();
        assert_eq!(
            onboarding.advance(StageData::Started, now),
            Err(refused(Completed, Completed, TransitionRefusal::Final))
        );
        assert_eq!(
            onboarding.go_back(Started, now),
            Err(refused(Completed, Started, TransitionRefusal::Final))
        );
        assert_eq!(
            onboarding.complete(None, now),
            Err(refused(Completed, Completed, TransitionRefusal::Final))
        );
        assert_eq!(onboarding, before);
    }

    #[test]
    fn completing_needs_accepted_terms() {
        let now = Utc::now();
        let mut onboarding = at(Terms, now);
        let before = onboarding.clone();
        let not_accepted =
            OnboardingError::InvalidData(StageDataError::single("accepted", "must be accepted to finish"));
        assert_eq!(onboarding.complete(None, now), Err(not_accepted.clone()));
        assert_eq!(onboarding.complete(Some(terms(false, now)), now), Err(not_accepted));
        assert_eq!(onboarding, before);
        onboarding.terms = Some(terms(true, now));
        assert_eq!(onboarding.complete(None, now), Ok(()));
    }

    #[test]
    fn a_stale_version_is_refused() {
        let onboarding = at(OrganizationStage, Utc::now());
        assert_eq!(onboarding.check_version(None), Ok(()));
        assert_eq!(onboarding.check_version(Some(3)), Ok(()));
        assert_eq!(
            onboarding.check_version(Some(2)),
            Err(OnboardingError::StaleVersion { expected: 2, actual: 3 })
        );
    }
}
