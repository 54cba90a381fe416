//! The caller's current tenant.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_domain::{Plan as DomainPlan, Tenant as DomainTenant, TenantId, TenantStatus as DomainStatus};

use super::context::{application, client_info, member};
use super::cookies;
use super::errors::{GqlResult, parse_id};
use super::identity::AuthPayload;

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

/// One of my tenants, with my role there.
#[derive(SimpleObject, Clone)]
pub struct MyTenant {
    pub tenant: Tenant,
    pub role_id: ID,
    pub role_name: String,
    /// `owner`, `admin`, `member` or `viewer` for system roles.
    pub role_key: Option<String>,
    pub joined_at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub name: String,
    /// Optional; derived from `name` when omitted.
    pub slug: Option<String>,
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

    /// Every tenant where I am an active member, with my role there.
    async fn my_tenants(&self, ctx: &Context<'_>) -> Result<Vec<MyTenant>> {
        let request = member(ctx)?;
        let mine = application(ctx).my_tenants(request).await.gql()?;
        Ok(mine
            .into_iter()
            .map(|m| MyTenant {
                tenant: m.tenant.into(),
                role_id: ID(m.role.role_id.to_string()),
                role_name: m.role.name,
                role_key: m.role.system.map(|s| s.key().to_owned()),
                joined_at: m.membership.created_at,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct TenantMutation;

#[Object]
impl TenantMutation {
    /// A new token pair for another of my tenants.
    async fn switch_tenant(&self, ctx: &Context<'_>, tenant_id: ID) -> Result<AuthPayload> {
        let request = member(ctx)?;
        let tenant_id = parse_id("tenantId", &tenant_id, TenantId::parse)?;
        application(ctx)
            .switch_tenant(request, tenant_id, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }

    /// Creates a tenant that I own, and returns a token pair for it.
    async fn create_tenant(&self, ctx: &Context<'_>, input: CreateTenantInput) -> Result<AuthPayload> {
        let request = member(ctx)?;
        application(ctx)
            .create_tenant(request, &input.name, input.slug.as_deref(), client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }
}
