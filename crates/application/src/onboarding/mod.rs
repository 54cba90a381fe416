//! Onboarding: a person walks through `Started → PersonalInfo → Organization → Terms →
//! Completed`. Drafts are saved as typed (cheap, last write wins, optimistic versions);
//! advancing validates the stage and applies it; completing records an
//! `onboarding.completed` event in the same transaction. Until then, where the
//! deployment gates on it, tenant work answers `ONBOARDING_INCOMPLETE`.

mod settings;

use tessera_domain::{
    CompanySize, Name, NewAuditEvent, OnboardingError, OnboardingStage, Organization, OrganizationInput, Permission,
    PersonalInfoInput, Slug, StageData, StageDataError, Tenant, TenantSettings, TermsInput, User,
};

pub use settings::{SetupChecklist, SetupItem, TenantSettingsChange};

use crate::ForbiddenReason;
use crate::ports::{OnboardingFunnel, StoreError, Transaction};
use crate::{AppError, Application, FieldErrors, RequestContext};
use tessera_domain::{DraftRefusal, OnboardingRecord, StageDraft};

/// The longest text a draft field may hold (drafts are not validated otherwise).
const DRAFT_FIELD_MAX: usize = 2_000;

/// What the person submits to advance from a stage, as typed.
#[derive(Debug, Clone)]
pub enum StageSubmission {
    Started,
    PersonalInfo(PersonalInfoInput),
    Organization(OrganizationInput),
}

impl StageSubmission {
    fn stage(&self) -> OnboardingStage {
        match self {
            StageSubmission::Started => OnboardingStage::Started,
            StageSubmission::PersonalInfo(_) => OnboardingStage::PersonalInfo,
            StageSubmission::Organization(_) => OnboardingStage::Organization,
        }
    }
}

impl Application {
    /// My onboarding: the stage I am on, what I have submitted, and my draft.
    #[tracing::instrument(level = "debug", name = "onboarding", skip_all)]
    pub async fn onboarding(&self, ctx: &RequestContext) -> Result<OnboardingRecord, AppError> {
        ctx.require_person()?;
        let tx = self.global_tx().await?;
        Ok(self.load(tx.as_ref(), ctx).await?.0)
    }

    /// Keeps what I typed on my current stage without validating it.
    #[tracing::instrument(level = "debug", name = "save_onboarding_draft", skip_all)]
    pub async fn save_onboarding_draft(
        &self,
        ctx: &RequestContext,
        draft: StageDraft,
        expected_version: Option<i64>,
    ) -> Result<OnboardingRecord, AppError> {
        let me = ctx.require_person()?;
        check_draft_size(&draft)?;
        let tx = self.global_tx().await?;
        let (mut record, stored) = self.load(tx.as_ref(), ctx).await?;
        record.progress.check_version(expected_version).map_err(refused)?;
        let now = self.ports.clock.now();
        record.keep_draft(draft, now).map_err(|refusal| match refusal {
            DraftRefusal::Finished(error) => refused(error),
            DraftRefusal::NotTheCurrentStep(current) => {
                AppError::validation("stage", format!("drafts are kept for the current step, {current}"))
            }
        })?;
        self.store_progress(tx.as_ref(), &record, stored).await?;
        // What the draft holds is the person's own unvalidated typing: it stays out.
        let event = ctx.audit("onboarding.draft_saved", "user", me, now).change(
            "stage",
            None::<&str>,
            Some(record.progress.stage.as_str()),
        );
        record_in_own_tenant(tx.as_ref(), ctx, &event).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Validates my current stage's data, applies it, and moves me one step forward.
    #[tracing::instrument(level = "debug", name = "advance_onboarding", skip_all)]
    pub async fn advance_onboarding(
        &self,
        ctx: &RequestContext,
        submission: StageSubmission,
        expected_version: Option<i64>,
    ) -> Result<OnboardingRecord, AppError> {
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        let data = match &submission {
            StageSubmission::Started => StageData::Started,
            StageSubmission::PersonalInfo(input) => StageData::PersonalInfo(input.validate().map_err(invalid)?),
            StageSubmission::Organization(input) => StageData::Organization(input.validate().map_err(invalid)?),
        };
        let tx = self.global_tx().await?;
        let (mut record, stored) = self.load(tx.as_ref(), ctx).await?;
        record.progress.check_version(expected_version).map_err(refused)?;
        if record.progress.stage != submission.stage() {
            let given = submission.stage();
            return Err(refused(if record.progress.is_completed() {
                OnboardingError::Refused {
                    from: OnboardingStage::Completed,
                    to: given,
                    reason: tessera_domain::TransitionRefusal::Final,
                }
            } else {
                OnboardingError::WrongStage {
                    current: record.progress.stage,
                    given,
                }
            }));
        }
        let from = record.progress.stage;
        let mut applied = OrganizationApplied::default();
        match &data {
            StageData::PersonalInfo(info) => {
                tx.users().update_display_name(me, &info.display_name, now).await?;
            }
            StageData::Organization(organization) => {
                applied = self.apply_organization(tx.as_ref(), ctx, organization).await?;
            }
            StageData::Started | StageData::Terms(_) => {}
        }
        // The invitation is spent: keep no copy of its token.
        let data = match data {
            StageData::Organization(Organization::JoinInvited { .. }) => {
                StageData::Organization(Organization::JoinInvited {
                    invitation_token: "(accepted)".into(),
                })
            }
            other => other,
        };
        record.advance(data, now).map_err(refused)?;
        self.store_progress(tx.as_ref(), &record, stored).await?;
        let mut event = ctx.audit("onboarding.advanced", "user", me, now).change(
            "stage",
            Some(from.as_str()),
            Some(record.progress.stage.as_str()),
        );
        if let Some((before, after)) = &applied.set_up {
            event = event
                .change("tenant_name", Some(before.name.as_str()), Some(after.name.as_str()))
                .change("tenant_slug", Some(before.slug.as_str()), Some(after.slug.as_str()));
        }
        if let Some(tenant_id) = applied.joined {
            event = event.change("joined_tenant_id", None::<String>, Some(tenant_id));
        }
        record_in_own_tenant(tx.as_ref(), ctx, &event).await?;
        tx.commit().await?;
        if let Some(tenant_id) = applied.joined {
            self.access_changed(tenant_id).await;
        }
        Ok(record)
    }

    /// Goes back to an earlier stage to edit it (what was submitted is kept).
    #[tracing::instrument(level = "debug", name = "return_to_onboarding_stage", skip_all)]
    pub async fn return_to_onboarding_stage(
        &self,
        ctx: &RequestContext,
        stage: OnboardingStage,
        expected_version: Option<i64>,
    ) -> Result<OnboardingRecord, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        let (mut record, stored) = self.load(tx.as_ref(), ctx).await?;
        record.progress.check_version(expected_version).map_err(refused)?;
        let now = self.ports.clock.now();
        let from = record.progress.stage;
        record.go_back(stage, now).map_err(refused)?;
        self.store_progress(tx.as_ref(), &record, stored).await?;
        let event = ctx.audit("onboarding.returned", "user", me, now).change(
            "stage",
            Some(from.as_str()),
            Some(record.progress.stage.as_str()),
        );
        record_in_own_tenant(tx.as_ref(), ctx, &event).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Accepts the terms and finishes; records `onboarding.completed` in the same transaction.
    #[tracing::instrument(level = "debug", name = "complete_onboarding", skip_all)]
    pub async fn complete_onboarding(
        &self,
        ctx: &RequestContext,
        terms: TermsInput,
        expected_version: Option<i64>,
    ) -> Result<OnboardingRecord, AppError> {
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        let terms = terms.validate(now).map_err(invalid)?;
        let tx = self.global_tx().await?;
        let (mut record, stored) = self.load(tx.as_ref(), ctx).await?;
        record.progress.check_version(expected_version).map_err(refused)?;
        let version = terms.version.clone();
        let from = record.progress.stage;
        record.complete(Some(terms), now).map_err(refused)?;
        self.store_progress(tx.as_ref(), &record, stored).await?;
        let scope = ctx.own_scope();
        tx.enter_tenant(scope).await?;
        let event = ctx
            .audit("onboarding.completed", "user", me, now)
            .change("stage", Some(from.as_str()), Some(record.progress.stage.as_str()))
            .change("terms_version", None::<&str>, Some(version.as_str()));
        self.journal(tx.as_ref(), &event).await?;
        tx.enter_user(me).await?;
        let tenants: Vec<_> = tx
            .memberships()
            .list_own(me)
            .await?
            .into_iter()
            .map(|m| m.tenant_id)
            .collect();
        tx.commit().await?;
        // Cached access remembers "not onboarded"; forget it wherever I am a member.
        for tenant_id in tenants {
            self.access_changed(tenant_id).await;
        }
        Ok(record)
    }

    /// Members of my tenant per stage, completion rate and median time to complete.
    #[tracing::instrument(level = "debug", name = "onboarding_funnel", skip_all)]
    pub async fn onboarding_funnel(&self, ctx: &RequestContext) -> Result<OnboardingFunnel, AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.onboarding().funnel(&scope).await?)
    }

    /// My record, or a fresh start (not stored until the first change), and the stored version.
    async fn load(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
    ) -> Result<(OnboardingRecord, Option<i64>), AppError> {
        let me = ctx.require_person()?;
        Ok(match tx.onboarding().find(me).await? {
            Some(record) => {
                let version = record.progress.version;
                (record, Some(version))
            }
            None => (
                OnboardingRecord {
                    progress: tessera_domain::Onboarding::start(me, self.ports.clock.now()),
                    draft: None,
                },
                None,
            ),
        })
    }

    async fn store_progress(
        &self,
        tx: &dyn Transaction,
        record: &OnboardingRecord,
        stored: Option<i64>,
    ) -> Result<(), AppError> {
        let result = match stored {
            Some(version) => tx.onboarding().save(record, version).await,
            None => tx.onboarding().insert(record).await,
        };
        result.map_err(|error| match error {
            StoreError::NotFound | StoreError::Duplicate(_) => AppError::Conflict {
                field: "expectedVersion".into(),
                message: "onboarding was changed meanwhile; load it again".into(),
            },
            other => other.into(),
        })
    }

    /// Creating: my current tenant takes the name, slug, size and industry (only for
    /// those who may change it). Joining: accepts the invitation (a no-op when I am
    /// already an active member of its tenant, e.g. I signed up with it). Returns the
    /// tenant joined, if any.
    async fn apply_organization(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        organization: &Organization,
    ) -> Result<OrganizationApplied, AppError> {
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        match organization {
            Organization::Create {
                name,
                slug,
                size,
                industry,
            } => {
                // Renaming (and re-addressing) a tenant is its owner's call, not any admin's.
                let scope = ctx.own_scope();
                tx.enter_tenant(scope).await?;
                let owner = match ctx.role_id() {
                    Some(role_id) => tx
                        .roles()
                        .find_by_ids(scope, &[role_id])
                        .await?
                        .iter()
                        .any(|role| role.system == Some(tessera_domain::SystemRole::Owner)),
                    None => false,
                };
                if !owner {
                    return Err(AppError::Forbidden {
                        reason: ForbiddenReason::OwnerOnly,
                        message: "only the tenant's owner sets it up here; join with an invitation instead".into(),
                    });
                }
                let set_up = self
                    .set_up_tenant(tx, ctx, name, slug, *size, industry.clone(), now)
                    .await?;
                Ok(OrganizationApplied {
                    set_up: Some(set_up),
                    joined: None,
                })
            }
            Organization::JoinInvited { invitation_token } => {
                let tenant_id = crate::invitations::tenant_of(invitation_token)
                    .ok_or_else(|| AppError::validation("invitationToken", "is not an invitation token"))?;
                tx.enter_user(me).await?;
                let already = tx
                    .memberships()
                    .list_own(me)
                    .await?
                    .into_iter()
                    .any(|m| m.tenant_id == tenant_id && m.is_active());
                if already {
                    return Ok(OrganizationApplied::default());
                }
                let user: User = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
                let (tenant, _) = self
                    .accept_into(tx, &user, invitation_token)
                    .await
                    .map_err(|error| match error {
                        AppError::Validation(_) => AppError::validation("invitationToken", "is unknown or expired"),
                        other => other,
                    })?;
                Ok(OrganizationApplied {
                    set_up: None,
                    joined: Some(tenant.id),
                })
            }
        }
    }

    /// Returns the tenant before and after.
    #[allow(clippy::too_many_arguments)]
    async fn set_up_tenant(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        name: &Name,
        slug: &Slug,
        size: CompanySize,
        industry: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Tenant, Tenant), AppError> {
        let scope = ctx.own_scope();
        let before = tx
            .tenants()
            .find_by_id(scope.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let mut tenant = before.clone();
        tenant.set_up(name.clone(), slug.clone(), now);
        tx.tenants()
            .update_profile(&tenant)
            .await
            .map_err(|error| match error {
                StoreError::Duplicate(_) => AppError::Conflict {
                    field: "slug".into(),
                    message: "this address is taken; choose another".into(),
                },
                other => other.into(),
            })?;
        tx.enter_tenant(scope).await?;
        let previous = tx
            .tenant_settings()
            .find(scope)
            .await?
            .unwrap_or_else(|| TenantSettings::empty(scope.tenant_id(), now));
        let mut settings = previous.clone();
        settings.describe_organization(size, industry, now);
        tx.tenant_settings().upsert(scope, &previous, &settings).await?;
        Ok((before, tenant))
    }
}

/// What applying the organization stage changed beyond the person's own progress.
#[derive(Default)]
struct OrganizationApplied {
    /// The current tenant, before and after it took the organization's name and slug.
    set_up: Option<(Tenant, Tenant)>,
    /// The tenant joined through an invitation.
    joined: Option<tessera_domain::TenantId>,
}

/// Appends an onboarding event to the request's tenant chain. Onboarding is the
/// person's own and may have entered another tenant on the way (joining one through an
/// invitation), so the request's tenant is entered again first.
async fn record_in_own_tenant(
    tx: &dyn Transaction,
    ctx: &RequestContext,
    event: &NewAuditEvent,
) -> Result<(), AppError> {
    tx.enter_tenant(ctx.own_scope()).await?;
    tx.audit().append(event).await?;
    Ok(())
}

fn invalid(errors: StageDataError) -> AppError {
    let mut fields = FieldErrors::new();
    for (field, message) in &errors.fields {
        fields.add(field, message.clone());
    }
    AppError::Validation(fields)
}

fn refused(error: OnboardingError) -> AppError {
    match error {
        OnboardingError::InvalidData(errors) => invalid(errors),
        OnboardingError::StaleVersion { .. } => AppError::Conflict {
            field: "expectedVersion".into(),
            message: error.to_string(),
        },
        OnboardingError::UseComplete => AppError::validation("stage", "finish the terms step with completeOnboarding"),
        OnboardingError::WrongStage { .. } | OnboardingError::Refused { .. } | OnboardingError::NotBackward { .. } => {
            AppError::Conflict {
                field: "stage".into(),
                message: error.to_string(),
            }
        }
    }
}

fn check_draft_size(draft: &StageDraft) -> Result<(), AppError> {
    let fields: Vec<(&str, &Option<String>)> = match draft {
        StageDraft::PersonalInfo(i) => vec![
            ("displayName", &i.display_name),
            ("jobTitle", &i.job_title),
            ("timeZone", &i.time_zone),
            ("locale", &i.locale),
        ],
        StageDraft::Organization(o) => vec![
            ("name", &o.name),
            ("slug", &o.slug),
            ("size", &o.size),
            ("industry", &o.industry),
            ("invitationToken", &o.invitation_token),
        ],
        StageDraft::Terms(t) => vec![("version", &t.version)],
    };
    let mut errors = FieldErrors::new();
    for (field, value) in fields {
        if value.as_ref().is_some_and(|v| v.chars().count() > DRAFT_FIELD_MAX) {
            errors.add(
                field,
                format!("must be at most {DRAFT_FIELD_MAX} characters, even in a draft"),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}
