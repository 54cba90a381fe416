//! The caller's current tenant.

use async_graphql::{Context, Enum, ID, InputObject, Lookahead, Object, Result};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::tenants::MyTenant as MyTenantRow;
use tessera_domain::{Permission, StatusReason, Tenant as DomainTenant, TenantId, TenantStatus as DomainStatus};

use super::access::{Access, Rule};
use super::context::{application, client_info, member};
use super::cookies;
use super::errors::{GqlResult, parse_id};
use super::identity::AuthPayload;
use super::loaders::{load_required, prefetch};
use super::pagination::{page_cost, relay_connection};
use super::plans::{Plan, TenantUsage};

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["currentTenant"], Access::Identity),
    ("Query", &["myTenants"], Access::Person),
    ("Mutation", &["switchTenant", "createTenant"], Access::Person),
    ("MyTenant", &["*"], Access::Inherited),
    ("MyTenantConnection", &["*"], Access::Inherited),
    ("MyTenantEdge", &["*"], Access::Inherited),
    (
        "Tenant",
        &["id", "slug", "name", "status", "plan", "createdAt", "deletionScheduledFor", "mfaRequired"],
        Access::Inherited,
    ),
    ("Tenant", &["usage", "statusReason"], Access::Permission(Permission::BillingManage)),
];

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    /// A payment is overdue: the tenant reads, and changes wait.
    PastDue,
    /// Locked: only its owners sign in, to see its status and billing, and export.
    Suspended,
    /// Scheduled for deletion: only its owners sign in, to cancel it or export, until
    /// `deletionScheduledFor`.
    PendingDeletion,
    Deleted,
}

/// Why a tenant is past due or suspended.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatusReason {
    Billing,
    Abuse,
    Requested,
}

impl From<TenantStatusReason> for StatusReason {
    fn from(reason: TenantStatusReason) -> Self {
        match reason {
            TenantStatusReason::Billing => Self::Billing,
            TenantStatusReason::Abuse => Self::Abuse,
            TenantStatusReason::Requested => Self::Requested,
        }
    }
}

/// An organization: the unit of isolation.
#[derive(Clone)]
pub struct Tenant(DomainTenant);

impl From<DomainTenant> for Tenant {
    fn from(tenant: DomainTenant) -> Self {
        Self(tenant)
    }
}

#[Object]
impl Tenant {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn slug(&self) -> &str {
        self.0.slug.as_str()
    }

    async fn name(&self) -> &str {
        self.0.name.as_str()
    }

    async fn status(&self) -> TenantStatus {
        match self.0.status {
            DomainStatus::Active => TenantStatus::Active,
            DomainStatus::PastDue => TenantStatus::PastDue,
            DomainStatus::Suspended => TenantStatus::Suspended,
            DomainStatus::PendingDeletion => TenantStatus::PendingDeletion,
            DomainStatus::Deleted => TenantStatus::Deleted,
        }
    }

    /// Why the tenant is past due or suspended (`null` while active). Needs
    /// `billing:manage`.
    async fn status_reason(&self) -> Option<TenantStatusReason> {
        self.0.status_reason.map(|reason| match reason {
            StatusReason::Billing => TenantStatusReason::Billing,
            StatusReason::Abuse => TenantStatusReason::Abuse,
            StatusReason::Requested => TenantStatusReason::Requested,
        })
    }

    /// The tenant's plan, with the limits and features granted or withheld for it
    /// alone already applied.
    async fn plan(&self, ctx: &Context<'_>) -> Plan {
        Plan::from(&application(ctx).current_entitlements(&self.0))
    }

    /// How much of each quota the tenant holds against its plan: what to remove
    /// after a downgrade. Your current tenant only (`null` for another); needs
    /// `billing:manage`.
    async fn usage(&self, ctx: &Context<'_>) -> Result<Option<TenantUsage>> {
        let request = member(ctx)?;
        if request.tenant_id() != self.0.id {
            return Ok(None);
        }
        let usage = application(ctx).tenant_usage(request).await.gql()?;
        Ok(Some(TenantUsage::from(&usage)))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the tenant's data is purged, while it is pending deletion.
    async fn deletion_scheduled_for(&self) -> Option<DateTime<Utc>> {
        self.0.deletion.map(|d| d.due_at)
    }

    /// Its members must sign in with a second factor (set by an owner with
    /// `setMfaRequired`).
    async fn mfa_required(&self) -> bool {
        self.0.mfa_required
    }
}

pub struct MyTenant(MyTenantRow);

impl From<&MyTenantRow> for MyTenant {
    fn from(row: &MyTenantRow) -> Self {
        Self(row.clone())
    }
}

/// One of my tenants, with my role there.
#[Object]
impl MyTenant {
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        load_required(ctx, self.0.membership.tenant_id, "tenant")
            .await
            .map(Tenant::from)
    }

    async fn role_id(&self) -> ID {
        ID(self.0.role.role_id.to_string())
    }

    async fn role_name(&self) -> &str {
        &self.0.role.name
    }

    /// `owner`, `admin`, `member` or `viewer` for system roles.
    async fn role_key(&self) -> Option<&'static str> {
        self.0.role.system.map(|s| s.key())
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.membership.created_at
    }
}

relay_connection!(
    MyTenantConnection,
    MyTenantEdge,
    MyTenant,
    MyTenantRow,
    (),
    |app, request, _extra| app.count_my_tenants(request),
    prefetch = prefetch_my_tenants
);

/// The tenants of a page of my memberships, in one batch.
async fn prefetch_my_tenants(ctx: &Context<'_>, items: &[MyTenantRow], wanted: &Lookahead<'_>) {
    prefetch(
        ctx,
        wanted.field("tenant").exists(),
        items.iter().map(|row| row.membership.tenant_id),
    )
    .await;
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

    /// The tenants where I am an active member, with my role there, oldest membership
    /// first (Relay connection; at most 100 per page).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn my_tenants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MyTenantConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).my_tenants(request, &page).await.gql()?;
        Ok(MyTenantConnection { page, extra: () })
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
