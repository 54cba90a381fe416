//! Plans: the catalogue (for a pricing page), a tenant's plan and usage, and the
//! platform administrators' plan changes and per-tenant overrides.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::plans::TenantUsage as UsageRow;
use tessera_domain::{Allowance, Entitlements, Feature, Limit, OverrideTarget, Plan as DomainPlan, TenantId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::tenants::Tenant;
use tessera_application::AppError;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["plans"], Access::Public),
    ("Mutation", &["changePlan", "setTenantOverride", "clearTenantOverride"], Access::Person),
    ("Plan", &["*"], Access::Inherited),
    ("PlanPrice", &["*"], Access::Inherited),
    ("PlanLimits", &["*"], Access::Inherited),
    ("TenantUsage", &["*"], Access::Inherited),
    ("QuotaUsage", &["*"], Access::Inherited),
];

/// A capability a plan includes or not.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum PlanFeature {
    ApiKeys,
    Webhooks,
    CustomRoles,
    CustomDomains,
    AuditExport,
    Sso,
    Scim,
}

impl From<Feature> for PlanFeature {
    fn from(feature: Feature) -> Self {
        match feature {
            Feature::ApiKeys => Self::ApiKeys,
            Feature::Webhooks => Self::Webhooks,
            Feature::CustomRoles => Self::CustomRoles,
            Feature::CustomDomains => Self::CustomDomains,
            Feature::AuditExport => Self::AuditExport,
            Feature::Sso => Self::Sso,
            Feature::Scim => Self::Scim,
        }
    }
}

impl From<PlanFeature> for Feature {
    fn from(feature: PlanFeature) -> Self {
        match feature {
            PlanFeature::ApiKeys => Self::ApiKeys,
            PlanFeature::Webhooks => Self::Webhooks,
            PlanFeature::CustomRoles => Self::CustomRoles,
            PlanFeature::CustomDomains => Self::CustomDomains,
            PlanFeature::AuditExport => Self::AuditExport,
            PlanFeature::Sso => Self::Sso,
            PlanFeature::Scim => Self::Scim,
        }
    }
}

/// A number a plan sets.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum PlanLimit {
    Seats,
    Workspaces,
    CustomRoles,
    ApiKeys,
    WebhookEndpoints,
    CustomDomains,
    RequestsPerMinute,
    ApiCallsPerMonth,
    MaxQueryComplexity,
    MaxQueryDepth,
}

impl From<PlanLimit> for Limit {
    fn from(limit: PlanLimit) -> Self {
        match limit {
            PlanLimit::Seats => Self::Seats,
            PlanLimit::Workspaces => Self::Workspaces,
            PlanLimit::CustomRoles => Self::CustomRoles,
            PlanLimit::ApiKeys => Self::ApiKeys,
            PlanLimit::WebhookEndpoints => Self::WebhookEndpoints,
            PlanLimit::CustomDomains => Self::CustomDomains,
            PlanLimit::RequestsPerMinute => Self::RequestsPerMinute,
            PlanLimit::ApiCallsPerMonth => Self::ApiCallsPerMonth,
            PlanLimit::MaxQueryComplexity => Self::MaxQueryComplexity,
            PlanLimit::MaxQueryDepth => Self::MaxQueryDepth,
        }
    }
}

impl From<Limit> for PlanLimit {
    fn from(limit: Limit) -> Self {
        match limit {
            Limit::Seats => Self::Seats,
            Limit::Workspaces => Self::Workspaces,
            Limit::CustomRoles => Self::CustomRoles,
            Limit::ApiKeys => Self::ApiKeys,
            Limit::WebhookEndpoints => Self::WebhookEndpoints,
            Limit::CustomDomains => Self::CustomDomains,
            Limit::RequestsPerMinute => Self::RequestsPerMinute,
            Limit::ApiCallsPerMonth => Self::ApiCallsPerMonth,
            Limit::MaxQueryComplexity => Self::MaxQueryComplexity,
            Limit::MaxQueryDepth => Self::MaxQueryDepth,
        }
    }
}

/// A number for GraphQL's 32-bit `Int`; `null` for unlimited.
fn int(allowance: Allowance) -> Option<i32> {
    allowance.as_number().map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

/// What a plan costs, for display; Tessera takes no payments.
#[derive(SimpleObject, Clone)]
pub struct PlanPrice {
    /// In the currency's smallest unit (cents).
    pub amount: i32,
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
}

/// Every limit of a plan; `null` means unlimited.
#[derive(SimpleObject, Clone)]
pub struct PlanLimits {
    /// Active members and pending invitations.
    pub seats: Option<i32>,
    pub workspaces: Option<i32>,
    pub custom_roles: Option<i32>,
    /// API keys that still work (neither revoked nor expired).
    pub api_keys: Option<i32>,
    pub webhook_endpoints: Option<i32>,
    pub custom_domains: Option<i32>,
    pub requests_per_minute: Option<i32>,
    pub api_calls_per_month: Option<i32>,
    pub max_query_complexity: Option<i32>,
    pub max_query_depth: Option<i32>,
}

impl PlanLimits {
    fn of(allowance: impl Fn(Limit) -> Allowance) -> Self {
        Self {
            seats: int(allowance(Limit::Seats)),
            workspaces: int(allowance(Limit::Workspaces)),
            custom_roles: int(allowance(Limit::CustomRoles)),
            api_keys: int(allowance(Limit::ApiKeys)),
            webhook_endpoints: int(allowance(Limit::WebhookEndpoints)),
            custom_domains: int(allowance(Limit::CustomDomains)),
            requests_per_minute: int(allowance(Limit::RequestsPerMinute)),
            api_calls_per_month: int(allowance(Limit::ApiCallsPerMonth)),
            max_query_complexity: int(allowance(Limit::MaxQueryComplexity)),
            max_query_depth: int(allowance(Limit::MaxQueryDepth)),
        }
    }
}

/// A plan: of the catalogue, or a tenant's with its overrides applied.
#[derive(SimpleObject, Clone)]
pub struct Plan {
    pub key: String,
    pub name: String,
    /// `null` when the plan has no list price (ask sales).
    pub price: Option<PlanPrice>,
    pub limits: PlanLimits,
    pub features: Vec<PlanFeature>,
    /// API keys of a tenant on this plan may only run trusted documents.
    pub trusted_documents_required: bool,
}

impl Plan {
    fn new(plan: &DomainPlan, limits: PlanLimits, features: Vec<PlanFeature>) -> Self {
        Self {
            key: plan.key.to_string(),
            name: plan.name.clone(),
            price: plan.price.as_ref().map(|price| PlanPrice {
                amount: i32::try_from(price.amount).unwrap_or(i32::MAX),
                currency: price.currency.clone(),
                interval: price.interval.clone(),
            }),
            limits,
            features,
            trusted_documents_required: plan.trusted_documents_required,
        }
    }
}

impl From<&DomainPlan> for Plan {
    fn from(plan: &DomainPlan) -> Self {
        let features = plan.features.iter().map(|f| PlanFeature::from(*f)).collect();
        Self::new(plan, PlanLimits::of(|limit| plan.allowance(limit)), features)
    }
}

impl From<&Entitlements> for Plan {
    fn from(entitled: &Entitlements) -> Self {
        let features = entitled.features().map(PlanFeature::from).collect();
        Self::new(
            &entitled.plan,
            PlanLimits::of(|limit| entitled.allowance(limit)),
            features,
        )
    }
}

/// How much of one quota the tenant holds.
#[derive(SimpleObject, Clone)]
pub struct QuotaUsage {
    pub used: i32,
    /// `null`: unlimited.
    pub limit: Option<i32>,
    /// True when the tenant holds more than its plan allows (after a downgrade):
    /// creation is refused until it removes `used - limit`.
    pub over: bool,
}

/// The tenant's use of every quota of its plan.
#[derive(SimpleObject, Clone)]
pub struct TenantUsage {
    pub seats: QuotaUsage,
    pub workspaces: QuotaUsage,
    pub custom_roles: QuotaUsage,
    pub api_keys: QuotaUsage,
    pub webhook_endpoints: QuotaUsage,
    pub custom_domains: QuotaUsage,
}

impl From<&UsageRow> for TenantUsage {
    fn from(row: &UsageRow) -> Self {
        let quota = |limit: Limit| {
            let used = row.held.get(&limit).copied().unwrap_or(0);
            let allowance = row.entitlements.allowance(limit);
            QuotaUsage {
                used: i32::try_from(used).unwrap_or(i32::MAX),
                limit: int(allowance),
                over: allowance.as_number().is_some_and(|max| used > max),
            }
        };
        Self {
            seats: quota(Limit::Seats),
            workspaces: quota(Limit::Workspaces),
            custom_roles: quota(Limit::CustomRoles),
            api_keys: quota(Limit::ApiKeys),
            webhook_endpoints: quota(Limit::WebhookEndpoints),
            custom_domains: quota(Limit::CustomDomains),
        }
    }
}

#[derive(InputObject)]
pub struct ChangePlanInput {
    pub tenant_id: ID,
    /// A key of the catalogue (`plans`).
    pub plan: String,
}

/// One limit or one feature (exactly one of them) granted or withheld for a tenant.
#[derive(InputObject)]
pub struct SetTenantOverrideInput {
    pub tenant_id: ID,
    pub limit: Option<PlanLimit>,
    /// The limit's new value; `null` for unlimited.
    pub value: Option<i32>,
    pub feature: Option<PlanFeature>,
    /// Whether the feature is granted (true) or withheld (false).
    pub enabled: Option<bool>,
    /// When the plan's own value applies again; `null` for until cleared.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ClearTenantOverrideInput {
    pub tenant_id: ID,
    pub limit: Option<PlanLimit>,
    pub feature: Option<PlanFeature>,
}

/// What an override input names.
enum Named {
    Limit(Limit),
    Feature(Feature),
}

/// Exactly one of a limit and a feature, or a per-field error.
fn one_of(limit: Option<PlanLimit>, feature: Option<PlanFeature>) -> Result<Named> {
    match (limit, feature) {
        (Some(limit), None) => Ok(Named::Limit(limit.into())),
        (None, Some(feature)) => Ok(Named::Feature(feature.into())),
        _ => Err(super::errors::to_graphql_error(&AppError::validation(
            "limit",
            "give exactly one of `limit` and `feature`",
        ))),
    }
}

#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// Every plan of the catalogue, in display order (for a pricing page; no sign-in needed).
    async fn plans(&self, ctx: &Context<'_>) -> Vec<Plan> {
        application(ctx)
            .plan_catalogue()
            .plans()
            .iter()
            .map(Plan::from)
            .collect()
    }
}

#[derive(Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    /// Moves a tenant to another plan. A downgrade deletes nothing (the tenant is over
    /// quota, and its `usage` shows what to remove). Platform administrators only.
    async fn change_plan(&self, ctx: &Context<'_>, input: ChangePlanInput) -> Result<Tenant> {
        let app = application(ctx);
        let scope = app.platform_scope(member(ctx)?).await.gql()?;
        let tenant_id = parse_id("tenantId", &input.tenant_id, TenantId::parse)?;
        app.change_plan(&scope, tenant_id, &input.plan)
            .await
            .gql()
            .map(Tenant::from)
    }

    /// Grants or withholds one limit or feature for one tenant until `expiresAt`.
    /// Platform administrators only.
    async fn set_tenant_override(&self, ctx: &Context<'_>, input: SetTenantOverrideInput) -> Result<Tenant> {
        let app = application(ctx);
        let scope = app.platform_scope(member(ctx)?).await.gql()?;
        let tenant_id = parse_id("tenantId", &input.tenant_id, TenantId::parse)?;
        let target = match one_of(input.limit, input.feature)? {
            Named::Limit(limit) => {
                let allowance = match input.value {
                    None => Allowance::Unlimited,
                    Some(value) => Allowance::AtMost(u64::try_from(value).map_err(|_| {
                        super::errors::to_graphql_error(&AppError::validation("value", "must not be negative"))
                    })?),
                };
                OverrideTarget::Limit(limit, allowance)
            }
            Named::Feature(feature) => {
                let enabled = input.enabled.ok_or_else(|| {
                    super::errors::to_graphql_error(&AppError::validation("enabled", "is required with `feature`"))
                })?;
                OverrideTarget::Feature(feature, enabled)
            }
        };
        app.set_tenant_override(&scope, tenant_id, target, input.expires_at)
            .await
            .gql()
            .map(Tenant::from)
    }

    /// Removes a tenant's override of one limit or feature. Platform administrators only.
    async fn clear_tenant_override(&self, ctx: &Context<'_>, input: ClearTenantOverrideInput) -> Result<Tenant> {
        let app = application(ctx);
        let scope = app.platform_scope(member(ctx)?).await.gql()?;
        let tenant_id = parse_id("tenantId", &input.tenant_id, TenantId::parse)?;
        let slot = match one_of(input.limit, input.feature)? {
            Named::Limit(limit) => format!("limit:{limit}"),
            Named::Feature(feature) => format!("feature:{feature}"),
        };
        app.clear_tenant_override(&scope, tenant_id, &slot)
            .await
            .gql()
            .map(Tenant::from)
    }
}
