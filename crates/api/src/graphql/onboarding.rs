//! Onboarding (my own progress, drafts that survive closing the tab) and tenant setup
//! (settings, a checklist derived from real state, and the funnel for admins).

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::AppError;
use tessera_application::onboarding::{SetupChecklist, SetupItem, StageSubmission, TenantSettingsChange};
use tessera_application::ports::OnboardingFunnel;
use tessera_domain::{OnboardingRecord, StageDraft};
use tessera_domain::{
    OnboardingStage as DomainStage, Organization, OrganizationInput as DomainOrganizationInput,
    PersonalInfoInput as DomainPersonalInput, Tenant, TenantSettings as DomainSettings, TermsInput as DomainTermsInput,
};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::GqlResult;
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", "onboarding", Access::Person),
    ("Mutation", "saveOnboardingDraft", Access::Person),
    ("Mutation", "advanceOnboarding", Access::Person),
    ("Mutation", "returnToOnboardingStage", Access::Person),
    ("Mutation", "completeOnboarding", Access::Person),
    ("Onboarding", "*", Access::Inherited),
    ("OnboardingDraft", "*", Access::Inherited),
    ("PersonalInfo", "*", Access::Inherited),
    ("OrganizationInfo", "*", Access::Inherited),
    ("OrganizationDraft", "*", Access::Inherited),
    ("TermsInfo", "*", Access::Inherited),
    ("Query", "onboardingFunnel", Access::Permission(Permission::TenantUpdate)),
    ("OnboardingFunnelStats", "*", Access::Inherited),
    ("StageCount", "*", Access::Inherited),
    ("Query", "tenantSettings", Access::Member),
    ("Mutation", "updateTenantSettings", Access::Permission(Permission::TenantUpdate)),
    ("TenantSettings", "*", Access::Inherited),
    ("Query", "setupChecklist", Access::Permission(Permission::TenantUpdate)),
    ("SetupChecklistView", "*", Access::Inherited),
    ("SetupChecklistItem", "*", Access::Inherited),
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

#[derive(SimpleObject)]
pub struct StageCount {
    pub stage: OnboardingStage,
    pub members: u64,
}

/// How the tenant's members are getting on with onboarding.
#[derive(SimpleObject)]
pub struct OnboardingFunnelStats {
    pub stages: Vec<StageCount>,
    pub members: u64,
    pub completed: u64,
    /// Completed members / members (0 with no members).
    pub completion_rate: f64,
    pub median_seconds_to_complete: Option<f64>,
}

impl From<OnboardingFunnel> for OnboardingFunnelStats {
    fn from(funnel: OnboardingFunnel) -> Self {
        Self {
            completion_rate: if funnel.members == 0 {
                0.0
            } else {
                funnel.completed as f64 / funnel.members as f64
            },
            stages: funnel
                .by_stage
                .into_iter()
                .map(|(stage, members)| StageCount {
                    stage: stage.into(),
                    members,
                })
                .collect(),
            members: funnel.members,
            completed: funnel.completed,
            median_seconds_to_complete: funnel.median_seconds_to_complete,
        }
    }
}

#[derive(SimpleObject)]
pub struct TenantSettings {
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub company_size: Option<String>,
    pub industry: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<(Tenant, DomainSettings)> for TenantSettings {
    fn from((tenant, settings): (Tenant, DomainSettings)) -> Self {
        Self {
            name: tenant.name.as_str().to_owned(),
            slug: tenant.slug.as_str().to_owned(),
            logo_url: settings.logo_url.map(|v| v.as_str().to_owned()),
            primary_color: settings.primary_colour.map(|v| v.as_str().to_owned()),
            locale: settings.locale.map(|v| v.as_str().to_owned()),
            time_zone: settings.time_zone.map(|v| v.as_str().to_owned()),
            company_size: settings.company_size.map(|v| v.as_str().to_owned()),
            industry: settings.industry,
            updated_at: settings.updated_at,
        }
    }
}

/// Leave a field out to keep it; send null (or "") to clear it.
#[derive(InputObject, Default)]
pub struct UpdateTenantSettingsInput {
    pub name: Option<String>,
    pub logo_url: MaybeUndefined<String>,
    pub primary_color: MaybeUndefined<String>,
    pub locale: MaybeUndefined<String>,
    pub time_zone: MaybeUndefined<String>,
}

fn change(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SetupItemKey {
    BrandingSet,
    RegionalDefaultsSet,
    WorkspaceCreated,
    MemberInvited,
    ApiKeyCreated,
}

#[derive(SimpleObject)]
pub struct SetupChecklistItem {
    pub key: SetupItemKey,
    pub done: bool,
}

#[derive(SimpleObject)]
pub struct SetupChecklistView {
    pub items: Vec<SetupChecklistItem>,
    pub done: u32,
    pub total: u32,
    pub complete: bool,
}

impl From<SetupChecklist> for SetupChecklistView {
    fn from(list: SetupChecklist) -> Self {
        let done = list.done() as u32;
        let total = list.items.len() as u32;
        Self {
            items: list
                .items
                .into_iter()
                .map(|(item, done)| SetupChecklistItem {
                    key: match item {
                        SetupItem::BrandingSet => SetupItemKey::BrandingSet,
                        SetupItem::RegionalDefaultsSet => SetupItemKey::RegionalDefaultsSet,
                        SetupItem::WorkspaceCreated => SetupItemKey::WorkspaceCreated,
                        SetupItem::MemberInvited => SetupItemKey::MemberInvited,
                        SetupItem::ApiKeyCreated => SetupItemKey::ApiKeyCreated,
                    },
                    done,
                })
                .collect(),
            done,
            total,
            complete: done == total,
        }
    }
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

    /// Members of this tenant per onboarding step (for those who may change the tenant).
    async fn onboarding_funnel(&self, ctx: &Context<'_>) -> Result<OnboardingFunnelStats> {
        let request = member(ctx)?;
        application(ctx)
            .onboarding_funnel(request)
            .await
            .gql()
            .map(OnboardingFunnelStats::from)
    }

    async fn tenant_settings(&self, ctx: &Context<'_>) -> Result<TenantSettings> {
        let request = member(ctx)?;
        application(ctx)
            .tenant_settings(request)
            .await
            .gql()
            .map(TenantSettings::from)
    }

    /// What is left to set this tenant up, from its real state.
    async fn setup_checklist(&self, ctx: &Context<'_>) -> Result<SetupChecklistView> {
        let request = member(ctx)?;
        application(ctx)
            .setup_checklist(request)
            .await
            .gql()
            .map(SetupChecklistView::from)
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

    /// Name, branding and regional defaults of this tenant.
    async fn update_tenant_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantSettingsInput,
    ) -> Result<TenantSettings> {
        let request = member(ctx)?;
        let change = TenantSettingsChange {
            name: input.name,
            logo_url: change(input.logo_url),
            primary_colour: change(input.primary_color),
            locale: change(input.locale),
            time_zone: change(input.time_zone),
        };
        application(ctx)
            .update_tenant_settings(request, change)
            .await
            .gql()
            .map(TenantSettings::from)
    }
}
