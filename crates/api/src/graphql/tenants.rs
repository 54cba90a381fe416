//! The caller's current tenant.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_domain::{Plan as DomainPlan, Tenant as DomainTenant, TenantStatus as DomainStatus};

use super::context::{application, member};
use super::errors::GqlResult;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
    Deleted,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

/// An organization: the unit of isolation.
#[derive(SimpleObject, Clone)]
pub struct Tenant {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
}

impl From<DomainTenant> for Tenant {
    fn from(tenant: DomainTenant) -> Self {
        Self {
            id: ID(tenant.id.to_string()),
            slug: tenant.slug.as_str().to_owned(),
            name: tenant.name.as_str().to_owned(),
            status: match tenant.status {
                DomainStatus::Active => TenantStatus::Active,
                DomainStatus::Suspended => TenantStatus::Suspended,
                DomainStatus::Deleted => TenantStatus::Deleted,
            },
            plan: match tenant.plan {
                DomainPlan::Free => Plan::Free,
                DomainPlan::Team => Plan::Team,
                DomainPlan::Enterprise => Plan::Enterprise,
            },
            created_at: tenant.created_at,
        }
    }
}

#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// The tenant the access token is scoped to.
    async fn current_tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        let request = member(ctx)?;
        application(ctx).current_tenant(request).await.gql().map(Tenant::from)
    }
}
