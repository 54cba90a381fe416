//! A tenant's metered usage over time, from the daily rollups: calls, errors, refused
//! requests, active people and API-key calls per day, week or month, and its busiest
//! API keys (holders of `analytics:read`: owners and admins by default). And the
//! platform's view of its tenants, for platform administrators.

use async_graphql::{
    Context, Enum, ID, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{Days, NaiveDate};
use tessera_domain::{Granularity as DomainGranularity, Permission, UsagePoint as DomainPoint};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::GqlResult;
use super::plans::PlanLimit;
use tessera_application::usage::PlatformAnalytics as Analytics;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["usage", "topApiKeys", "memberTallies", "invitationTallies"], Access::Permission(Permission::AnalyticsRead)),
    ("MemberTally", &["*"], Access::Inherited),
    ("InvitationTallies", &["*"], Access::Inherited),
    ("Query", &["platformAnalytics"], Access::Person),
    ("UsagePoint", &["*"], Access::Inherited),
    ("ApiKeyCalls", &["*"], Access::Inherited),
    ("PlatformAnalytics", &["*"], Access::Inherited),
    ("Tally", &["*"], Access::Inherited),
    ("SignUpDay", &["*"], Access::Inherited),
    ("ActiveTenants", &["*"], Access::Inherited),
    ("TenantCalls", &["*"], Access::Inherited),
    ("TenantQuotaStanding", &["*"], Access::Inherited),
];

/// A calendar day (UTC), written `YYYY-MM-DD`.
#[derive(Clone, Copy)]
pub struct Date(pub NaiveDate);

/// A calendar day (UTC), written `YYYY-MM-DD`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => text
                .parse()
                .map(Date)
                .map_err(|_| InputValueError::custom("a date is written YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// How a usage report groups days.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    #[default]
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl From<Granularity> for DomainGranularity {
    fn from(granularity: Granularity) -> Self {
        match granularity {
            Granularity::Day => Self::Day,
            Granularity::Week => Self::Week,
            Granularity::Month => Self::Month,
        }
    }
}

/// The tenant's usage in one bucket of days.
#[derive(SimpleObject)]
pub struct UsagePoint {
    /// The first day of the bucket.
    #[graphql(name = "from")]
    first_day: Date,
    /// The last day of the bucket (included).
    #[graphql(name = "to")]
    last_day: Date,
    /// Requests that ran, by people and API keys.
    api_calls: u64,
    /// Of those, requests by API keys.
    api_key_calls: u64,
    /// Requests that ran and answered with errors.
    errors: u64,
    /// Requests refused by a rate limit or by the monthly API-call quota.
    refused: u64,
    /// Distinct people who made a request in the bucket.
    active_users: u64,
}

impl From<DomainPoint> for UsagePoint {
    fn from(point: DomainPoint) -> Self {
        let last = point
            .bucket
            .end
            .checked_sub_days(Days::new(1))
            .unwrap_or(point.bucket.end);
        Self {
            first_day: Date(point.bucket.start),
            last_day: Date(last),
            api_calls: point.api_calls,
            api_key_calls: point.api_key_calls,
            errors: point.errors,
            refused: point.refused,
            active_users: point.active_users,
        }
    }
}

/// An API key and the requests it made.
#[derive(SimpleObject)]
pub struct ApiKeyCalls {
    api_key_id: ID,
    calls: u64,
}

/// Members with one role in one status.
#[derive(SimpleObject)]
pub struct MemberTally {
    role_id: ID,
    role_name: String,
    /// `active`, `invited` or `removed`.
    status: String,
    members: u64,
}

/// Invitations sent over a range of days, by what became of them.
#[derive(SimpleObject, Default)]
pub struct InvitationTallies {
    sent: u64,
    accepted: u64,
    pending: u64,
    revoked: u64,
}

/// A count of tenants sharing one value (a plan key, a status).
#[derive(SimpleObject)]
pub struct Tally {
    key: String,
    tenants: u64,
}

/// One day's new people.
#[derive(SimpleObject)]
pub struct SignUpDay {
    day: Date,
    /// People who signed up.
    sign_ups: u64,
    /// People who finished onboarding.
    activations: u64,
}

/// Tenants that made requests in the last days (today included).
#[derive(SimpleObject)]
pub struct ActiveTenants {
    last_7_days: u64,
    last_30_days: u64,
}

/// A tenant's requests this month.
#[derive(SimpleObject)]
pub struct TenantCalls {
    tenant_id: ID,
    slug: String,
    name: String,
    calls: u64,
    errors: u64,
}

impl From<tessera_application::ports::TenantCalls> for TenantCalls {
    fn from(calls: tessera_application::ports::TenantCalls) -> Self {
        Self {
            tenant_id: ID(calls.tenant_id.to_string()),
            slug: calls.slug,
            name: calls.name,
            calls: calls.calls,
            errors: calls.errors,
        }
    }
}

/// A tenant at 80% or more of a quota this month.
#[derive(SimpleObject)]
pub struct TenantQuotaStanding {
    tenant_id: ID,
    slug: String,
    name: String,
    quota: PlanLimit,
    used: u64,
    limit: u64,
    /// At or past the limit: requests are refused.
    over: bool,
}

/// The platform's tenants at a glance (platform administrators).
#[derive(SimpleObject)]
pub struct PlatformAnalytics {
    tenants_by_plan: Vec<Tally>,
    tenants_by_status: Vec<Tally>,
    /// Every day of the range, oldest first.
    sign_ups: Vec<SignUpDay>,
    active_tenants: ActiveTenants,
    /// The ten tenants with the most requests this month (UTC).
    busiest_tenants: Vec<TenantCalls>,
    /// The ten tenants with the most errors this month (UTC).
    most_errors: Vec<TenantCalls>,
    /// Tenants near (80%) or over their monthly API-call quota, the fullest first.
    tenants_near_quota: Vec<TenantQuotaStanding>,
}

impl From<Analytics> for PlatformAnalytics {
    fn from(analytics: Analytics) -> Self {
        let tally = |rows: Vec<(String, u64)>| rows.into_iter().map(|(key, tenants)| Tally { key, tenants }).collect();
        Self {
            tenants_by_plan: tally(analytics.tenants_by_plan),
            tenants_by_status: tally(analytics.tenants_by_status),
            sign_ups: analytics
                .sign_ups
                .into_iter()
                .map(|(bucket, sign_ups, activations)| SignUpDay {
                    day: Date(bucket.start),
                    sign_ups,
                    activations,
                })
                .collect(),
            active_tenants: ActiveTenants {
                last_7_days: analytics.active_last_7_days,
                last_30_days: analytics.active_last_30_days,
            },
            busiest_tenants: analytics.busiest.into_iter().map(TenantCalls::from).collect(),
            most_errors: analytics.most_errors.into_iter().map(TenantCalls::from).collect(),
            tenants_near_quota: analytics
                .near_quota
                .into_iter()
                .map(|standing| TenantQuotaStanding {
                    over: standing.over(),
                    tenant_id: ID(standing.tenant.id.to_string()),
                    slug: standing.tenant.slug.to_string(),
                    name: standing.tenant.name.as_str().to_owned(),
                    quota: standing.quota.into(),
                    used: standing.used,
                    limit: standing.limit,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// The tenant's usage from `from` to `to` (both included, at most 400 days), one
    /// point per day, week or month, oldest first. Counts reach the report within a few
    /// seconds (the meter's flush interval). Needs `analytics:read`.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        #[graphql(default)] granularity: Granularity,
    ) -> async_graphql::Result<Vec<UsagePoint>> {
        let points = application(ctx)
            .usage_report(member(ctx)?, from.0, to.0, granularity.into())
            .await
            .gql()?;
        Ok(points.into_iter().map(UsagePoint::from).collect())
    }

    /// The tenant's API keys with the most requests from `from` to `to` (both
    /// included), most first (`first`: 1–100). Needs `analytics:read`.
    async fn top_api_keys(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        #[graphql(default = 10)] first: u32,
    ) -> async_graphql::Result<Vec<ApiKeyCalls>> {
        let keys = application(ctx)
            .top_api_keys(member(ctx)?, from.0, to.0, u64::from(first))
            .await
            .gql()?;
        Ok(keys
            .into_iter()
            .map(|(id, calls)| ApiKeyCalls {
                api_key_id: ID(id.to_string()),
                calls,
            })
            .collect())
    }

    /// The platform's tenants: by plan and status, sign-ups and activations per day from
    /// `from` to `to` (both included, at most 400 days), tenants active in the last 7
    /// and 30 days, the busiest and the most failing tenants this month, and tenants
    /// near their monthly quota. Platform administrators only.
    async fn platform_analytics(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
    ) -> async_graphql::Result<PlatformAnalytics> {
        let app = application(ctx);
        let scope = app.platform_scope(member(ctx)?).await.gql()?;
        let analytics = app.platform_analytics(&scope, from.0, to.0).await.gql()?;
        Ok(analytics.into())
    }

    /// The tenant's members by role and status. Needs `analytics:read`.
    async fn member_tallies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MemberTally>> {
        let tallies = application(ctx).member_tallies(member(ctx)?).await.gql()?;
        Ok(tallies
            .into_iter()
            .map(|(role, role_name, status, members)| MemberTally {
                role_id: ID(role.to_string()),
                role_name,
                status,
                members,
            })
            .collect())
    }

    /// The invitations the tenant sent from `from` to `to` (both included, at most 400
    /// days), and how many of them were accepted. Needs `analytics:read`.
    async fn invitation_tallies(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
    ) -> async_graphql::Result<InvitationTallies> {
        let tallies = application(ctx)
            .invitation_tallies(member(ctx)?, from.0, to.0)
            .await
            .gql()?;
        let mut answer = InvitationTallies::default();
        for (status, count) in tallies {
            answer.sent += count;
            match status.as_str() {
                "accepted" => answer.accepted += count,
                "pending" => answer.pending += count,
                "revoked" => answer.revoked += count,
                _ => {}
            }
        }
        Ok(answer)
    }
}
