//! Setting a tenant up: its settings, a checklist derived from its real state, and
//! the onboarding funnel for those who may change the tenant.

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::onboarding::{SetupChecklist, SetupItem, TenantSettingsChange};
use tessera_application::ports::OnboardingFunnel;
use tessera_domain::{Permission, Tenant, TenantSettings as DomainSettings};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::GqlResult;
use super::onboarding::OnboardingStage;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["onboardingFunnel"], Access::Permission(Permission::TenantUpdate)),
    ("OnboardingFunnelStats", &["*"], Access::Inherited),
    ("StageCount", &["*"], Access::Inherited),
    ("Query", &["tenantSettings"], Access::Member),
    ("Mutation", &["updateTenantSettings"], Access::Permission(Permission::TenantUpdate)),
    ("TenantSettings", &["*"], Access::Inherited),
    ("Query", &["setupChecklist"], Access::Permission(Permission::TenantUpdate)),
    ("SetupChecklistView", &["*"], Access::Inherited),
    ("SetupChecklistItem", &["*"], Access::Inherited),
];

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
pub struct TenantSetupQuery;

#[Object]
impl TenantSetupQuery {
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
pub struct TenantSetupMutation;

#[Object]
impl TenantSetupMutation {
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
