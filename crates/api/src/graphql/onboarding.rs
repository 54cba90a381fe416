//! My own onboarding: progress through the steps, and drafts that survive closing the
//! tab. Setting the tenant up (settings, checklist, funnel) is in `tenant_setup.rs`.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::AppError;
use tessera_application::onboarding::StageSubmission;
use tessera_domain::{OnboardingRecord, StageDraft};
use tessera_domain::{
    OnboardingStage as DomainStage, Organization, OrganizationInput as DomainOrganizationInput,
    PersonalInfoInput as DomainPersonalInput, TermsInput as DomainTermsInput,
};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::GqlResult;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["onboarding"], Access::Person),
    ("Mutation", &["saveOnboardingDraft", "advanceOnboarding", "returnToOnboardingStage", "completeOnboarding"], Access::Person),
    ("Onboarding", &["*"], Access::Inherited),
    ("OnboardingDraft", &["*"], Access::Inherited),
    ("PersonalInfo", &["*"], Access::Inherited),
    ("OrganizationInfo", &["*"], Access::Inherited),
    ("OrganizationDraft", &["*"], Access::Inherited),
    ("TermsInfo", &["*"], Access::Inherited),
];

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OnboardingStage {
    Started,
    PersonalInfo,
    Organization,
    Terms,
    Completed,
}

impl From<DomainStage> for OnboardingStage {
    fn from(stage: DomainStage) -> Self {
        match stage {
            DomainStage::Started => Self::Started,
            DomainStage::PersonalInfo => Self::PersonalInfo,
            DomainStage::Organization => Self::Organization,
            DomainStage::Terms => Self::Terms,
            DomainStage::Completed => Self::Completed,
        }
    }
}

impl From<OnboardingStage> for DomainStage {
    fn from(stage: OnboardingStage) -> Self {
        match stage {
            OnboardingStage::Started => Self::Started,
            OnboardingStage::PersonalInfo => Self::PersonalInfo,
            OnboardingStage::Organization => Self::Organization,
            OnboardingStage::Terms => Self::Terms,
            OnboardingStage::Completed => Self::Completed,
        }
    }
}

/// The personal step, as submitted (or as drafted).
#[derive(SimpleObject, Clone, Default)]
pub struct PersonalInfo {
    pub display_name: Option<String>,
    pub job_title: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

/// The organization step, as submitted (an invitation token is never shown back).
#[derive(SimpleObject, Clone, Default)]
pub struct OrganizationInfo {
    pub joined_by_invitation: bool,
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `1`, `2-10`, `11-50`, `51-200` or `201+`.
    pub size: Option<String>,
    pub industry: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct TermsInfo {
    pub version: Option<String>,
    pub accepted: Option<bool>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// What I typed on my current step and did not submit yet.
#[derive(SimpleObject, Clone)]
pub struct OnboardingDraft {
    pub stage: OnboardingStage,
    pub personal_info: Option<PersonalInfo>,
    pub organization: Option<OrganizationDraft>,
    pub terms: Option<TermsInfo>,
}

#[derive(SimpleObject, Clone)]
pub struct OrganizationDraft {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub size: Option<String>,
    pub industry: Option<String>,
    pub invitation_token: Option<String>,
}

/// My onboarding: where I am, what I submitted, and my draft.
#[derive(SimpleObject, Clone)]
pub struct Onboarding {
    pub stage: OnboardingStage,
    /// Send it back as `expectedVersion` to refuse overwriting a newer save.
    pub version: i64,
    pub personal_info: Option<PersonalInfo>,
    pub organization: Option<OrganizationInfo>,
    pub terms: Option<TermsInfo>,
    pub draft: Option<OnboardingDraft>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn personal_of(input: &DomainPersonalInput) -> PersonalInfo {
    PersonalInfo {
        display_name: input.display_name.clone(),
        job_title: input.job_title.clone(),
        time_zone: input.time_zone.clone(),
        locale: input.locale.clone(),
    }
}

impl From<OnboardingRecord> for Onboarding {
    fn from(record: OnboardingRecord) -> Self {
        let progress = record.progress;
        Self {
            stage: progress.stage.into(),
            version: progress.version,
            personal_info: progress.personal.map(|p| PersonalInfo {
                display_name: Some(p.display_name.as_str().to_owned()),
                job_title: p.job_title,
                time_zone: Some(p.time_zone.as_str().to_owned()),
                locale: Some(p.locale.as_str().to_owned()),
            }),
            organization: progress.organization.map(|o| match o {
                Organization::Create {
                    name,
                    slug,
                    size,
                    industry,
                } => OrganizationInfo {
                    joined_by_invitation: false,
                    name: Some(name.as_str().to_owned()),
                    slug: Some(slug.as_str().to_owned()),
                    size: Some(size.as_str().to_owned()),
                    industry,
                },
                Organization::JoinInvited { .. } => OrganizationInfo {
                    joined_by_invitation: true,
                    ..OrganizationInfo::default()
                },
            }),
            terms: progress.terms.map(|t| TermsInfo {
                version: Some(t.version),
                accepted: Some(t.accepted),
                accepted_at: Some(t.accepted_at),
            }),
            draft: record.draft.map(|draft| {
                let stage = draft.stage().into();
                match draft {
                    StageDraft::PersonalInfo(input) => OnboardingDraft {
                        stage,
                        personal_info: Some(personal_of(&input)),
                        organization: None,
                        terms: None,
                    },
                    StageDraft::Organization(input) => OnboardingDraft {
                        stage,
                        personal_info: None,
                        organization: Some(OrganizationDraft {
                            name: input.name,
                            slug: input.slug,
                            size: input.size,
                            industry: input.industry,
                            invitation_token: input.invitation_token,
                        }),
                        terms: None,
                    },
                    StageDraft::Terms(input) => OnboardingDraft {
                        stage,
                        personal_info: None,
                        organization: None,
                        terms: Some(TermsInfo {
                            version: input.version,
                            accepted: input.accepted,
                            accepted_at: None,
                        }),
                    },
                }
            }),
            started_at: progress.started_at,
            updated_at: progress.updated_at,
            completed_at: progress.completed_at,
        }
    }
}

#[derive(InputObject, Clone, Default)]
pub struct PersonalInfoInput {
    pub display_name: Option<String>,
    pub job_title: Option<String>,
    /// An IANA name such as `Europe/Paris` or `UTC`.
    pub time_zone: Option<String>,
    /// Such as `en`, `en-GB` or `zh-Hant-TW`.
    pub locale: Option<String>,
}

/// Either create (name, slug, size, industry) or join (invitationToken).
#[derive(InputObject, Clone, Default)]
pub struct OrganizationInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `1`, `2-10`, `11-50`, `51-200` or `201+`.
    pub size: Option<String>,
    pub industry: Option<String>,
    pub invitation_token: Option<String>,
}

#[derive(InputObject, Clone, Default)]
pub struct TermsInput {
    pub version: Option<String>,
    pub accepted: Option<bool>,
}

impl From<PersonalInfoInput> for DomainPersonalInput {
    fn from(i: PersonalInfoInput) -> Self {
        Self {
            display_name: i.display_name,
            job_title: i.job_title,
            time_zone: i.time_zone,
            locale: i.locale,
        }
    }
}

impl From<OrganizationInput> for DomainOrganizationInput {
    fn from(i: OrganizationInput) -> Self {
        Self {
            name: i.name,
            slug: i.slug,
            size: i.size,
            industry: i.industry,
            invitation_token: i.invitation_token,
        }
    }
}

impl From<TermsInput> for DomainTermsInput {
    fn from(i: TermsInput) -> Self {
        Self {
            version: i.version,
            accepted: i.accepted,
        }
    }
}

#[derive(InputObject)]
pub struct SaveOnboardingDraftInput {
    /// Must be my current step; give the matching part below.
    pub stage: OnboardingStage,
    pub expected_version: Option<i64>,
    pub personal_info: Option<PersonalInfoInput>,
    pub organization: Option<OrganizationInput>,
    pub terms: Option<TermsInput>,
}

#[derive(InputObject)]
pub struct AdvanceOnboardingInput {
    /// The step I am submitting (my current one).
    pub stage: OnboardingStage,
    pub expected_version: Option<i64>,
    pub personal_info: Option<PersonalInfoInput>,
    pub organization: Option<OrganizationInput>,
}

#[derive(InputObject)]
pub struct ReturnToOnboardingStageInput {
    pub stage: OnboardingStage,
    pub expected_version: Option<i64>,
}

#[derive(InputObject)]
pub struct CompleteOnboardingInput {
    pub terms: TermsInput,
    pub expected_version: Option<i64>,
}

fn missing(part: &str) -> async_graphql::Error {
    super::errors::to_graphql_error(&AppError::validation(part, "is required for this step"))
}

#[derive(Default)]
pub struct OnboardingQuery;

#[Object]
impl OnboardingQuery {
    /// My onboarding progress and draft.
    async fn onboarding(&self, ctx: &Context<'_>) -> Result<Onboarding> {
        let request = member(ctx)?;
        application(ctx).onboarding(request).await.gql().map(Onboarding::from)
    }
}

#[derive(Default)]
pub struct OnboardingMutation;

#[Object]
impl OnboardingMutation {
    /// Keeps what I typed on my current step, unvalidated (auto-save). Last write wins,
    /// unless `expectedVersion` is stale (`CONFLICT`).
    async fn save_onboarding_draft(&self, ctx: &Context<'_>, input: SaveOnboardingDraftInput) -> Result<Onboarding> {
        let request = member(ctx)?;
        let draft = match input.stage {
            OnboardingStage::PersonalInfo => {
                StageDraft::PersonalInfo(input.personal_info.ok_or_else(|| missing("personalInfo"))?.into())
            }
            OnboardingStage::Organization => {
                StageDraft::Organization(input.organization.ok_or_else(|| missing("organization"))?.into())
            }
            OnboardingStage::Terms => StageDraft::Terms(input.terms.ok_or_else(|| missing("terms"))?.into()),
            OnboardingStage::Started | OnboardingStage::Completed => {
                return Err(super::errors::to_graphql_error(&AppError::validation(
                    "stage",
                    "this step has nothing to save",
                )));
            }
        };
        application(ctx)
            .save_onboarding_draft(request, draft, input.expected_version)
            .await
            .gql()
            .map(Onboarding::from)
    }

    /// Validates my current step, applies it and moves one step forward.
    async fn advance_onboarding(&self, ctx: &Context<'_>, input: AdvanceOnboardingInput) -> Result<Onboarding> {
        let request = member(ctx)?;
        let submission = match input.stage {
            OnboardingStage::Started => StageSubmission::Started,
            OnboardingStage::PersonalInfo => {
                StageSubmission::PersonalInfo(input.personal_info.ok_or_else(|| missing("personalInfo"))?.into())
            }
            OnboardingStage::Organization => {
                StageSubmission::Organization(input.organization.ok_or_else(|| missing("organization"))?.into())
            }
            OnboardingStage::Terms | OnboardingStage::Completed => {
                return Err(super::errors::to_graphql_error(&AppError::validation(
                    "stage",
                    "finish the terms step with completeOnboarding",
                )));
            }
        };
        application(ctx)
            .advance_onboarding(request, submission, input.expected_version)
            .await
            .gql()
            .map(Onboarding::from)
    }

    /// Goes back to an earlier step to edit it.
    async fn return_to_onboarding_stage(
        &self,
        ctx: &Context<'_>,
        input: ReturnToOnboardingStageInput,
    ) -> Result<Onboarding> {
        let request = member(ctx)?;
        application(ctx)
            .return_to_onboarding_stage(request, input.stage.into(), input.expected_version)
            .await
            .gql()
            .map(Onboarding::from)
    }

    /// Accepts the terms and finishes onboarding (only from the terms step).
    async fn complete_onboarding(&self, ctx: &Context<'_>, input: CompleteOnboardingInput) -> Result<Onboarding> {
        let request = member(ctx)?;
        application(ctx)
            .complete_onboarding(request, input.terms.into(), input.expected_version)
            .await
            .gql()
            .map(Onboarding::from)
    }
}
