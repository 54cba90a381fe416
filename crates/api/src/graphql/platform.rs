//! Platform administration across tenants (platform administrators only; the flag is
//! set with `tessera admin grant <email>`, never through a tenant role).

use async_graphql::{Context, ID, Object, Result};
use tessera_application::PageRequest;
use tessera_domain::{StatusReason, Tenant as DomainTenant, TenantId, TenantStatus};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::pagination::{page_cost, relay_connection};
use super::tenants::{Tenant, TenantStatusReason};

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["tenants"], Access::Person),
    ("Mutation", &["suspendTenant", "markTenantPastDue", "reactivateTenant"], Access::Person),
    ("TenantConnection", &["*"], Access::Inherited),
    ("TenantEdge", &["*"], Access::Inherited),
];

impl super::pagination::Cursored for DomainTenant {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

impl From<&DomainTenant> for Tenant {
    fn from(tenant: &DomainTenant) -> Self {
        Tenant::from(tenant.clone())
    }
}

relay_connection!(
    TenantConnection,
    TenantEdge,
    Tenant,
    DomainTenant,
    Option<String>,
    |app, request, search| async {
        let scope = app.platform_scope(request).await?;
        app.count_all_tenants(&scope, search.as_deref()).await
    }
);

#[derive(Default)]
pub struct PlatformQuery;

#[Object]
impl PlatformQuery {
    /// Every tenant, oldest first; `search` matches slug or name. Platform administrators only.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        search: Option<String>,
    ) -> Result<TenantConnection> {
        let request = member(ctx)?;
        let app = application(ctx);
        let scope = app.platform_scope(request).await.gql()?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = app.list_all_tenants(&scope, search.as_deref(), &page).await.gql()?;
        Ok(TenantConnection { page, extra: search })
    }
}

#[derive(Default)]
pub struct PlatformMutation;

#[Object]
impl PlatformMutation {
    /// Locks a tenant out from its members' next request (FORBIDDEN, `TENANT_SUSPENDED`);
    /// its owners may still sign in to see its status and billing, and export. The
    /// reason is recorded and shown to the owners. Platform administrators only.
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default_with = "TenantStatusReason::Requested")] reason: TenantStatusReason,
    ) -> Result<Tenant> {
        set_status(ctx, id, TenantStatus::Suspended, reason.into()).await
    }

    /// Makes a tenant read-only (a payment is overdue): reads answer, changes are
    /// refused with `TENANT_READ_ONLY`. Platform administrators only.
    async fn mark_tenant_past_due(&self, ctx: &Context<'_>, id: ID) -> Result<Tenant> {
        set_status(ctx, id, TenantStatus::PastDue, StatusReason::Billing).await
    }

    /// Makes a past-due or suspended tenant active again. Platform administrators only.
    async fn reactivate_tenant(&self, ctx: &Context<'_>, id: ID) -> Result<Tenant> {
        set_status(ctx, id, TenantStatus::Active, StatusReason::Requested).await
    }
}

async fn set_status(ctx: &Context<'_>, id: ID, status: TenantStatus, reason: StatusReason) -> Result<Tenant> {
    let request = member(ctx)?;
    let app = application(ctx);
    let scope = app.platform_scope(request).await.gql()?;
    let tenant_id = parse_id("id", &id, TenantId::parse)?;
    app.set_tenant_status(&scope, tenant_id, status, reason)
        .await
        .gql()
        .map(Tenant::from)
}
