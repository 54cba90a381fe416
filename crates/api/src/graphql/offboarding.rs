//! Offboarding: a tenant's owners export its data and schedule its deletion (or cancel
//! it); platform administrators schedule and cancel deletions of any tenant.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_domain::{ExportStatus as DomainStatus, TenantExport as DomainExport, TenantId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::tenants::Tenant;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused). The use cases check that
/// the person owns the tenant (or administers the platform).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["tenantExports"], Access::Person),
    ("Mutation", &["requestTenantExport", "requestTenantDeletion", "cancelTenantDeletion"], Access::Person),
    ("Mutation", &["scheduleTenantDeletion", "cancelScheduledTenantDeletion"], Access::Person),
    ("Mutation", &["exportMyData", "deleteMyAccount"], Access::Person),
    ("TenantExport", &["*"], Access::Inherited),
    ("ExportDownloadLink", &["*"], Access::Inherited),
];

/// Where an export stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    /// Asked for; it starts within seconds.
    Queued,
    Running,
    /// Ready to download until `expiresAt`.
    Completed,
    Failed,
    /// Its archive was removed after the retention window.
    Expired,
}

/// A signed link to an export's archive (`GET` it; no token needed) and when it stops working.
#[derive(SimpleObject)]
pub struct ExportDownloadLink {
    /// Relative to the server's address.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// One export of the tenant's data: an archive of every row the tenant holds (one
/// NDJSON file per table, credentials left out) with a manifest of row counts and
/// SHA-256 digests, and the tenant's audit trail with its hashes.
pub struct TenantExport(DomainExport);

#[Object]
impl TenantExport {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn status(&self) -> ExportStatus {
        match self.0.status {
            DomainStatus::Queued => ExportStatus::Queued,
            DomainStatus::Running => ExportStatus::Running,
            DomainStatus::Completed => ExportStatus::Completed,
            DomainStatus::Failed => ExportStatus::Failed,
            DomainStatus::Expired => ExportStatus::Expired,
        }
    }
    /// From 0 to 1: the share of tables written.
    async fn progress(&self) -> f64 {
        self.0.progress()
    }
    async fn tables_done(&self) -> u32 {
        self.0.tables_done
    }
    async fn tables_total(&self) -> u32 {
        self.0.tables_total
    }
    async fn rows_written(&self) -> u64 {
        self.0.rows_written
    }
    /// The archive's size in bytes, once completed.
    async fn bytes(&self) -> u64 {
        self.0.bytes
    }
    /// The archive's SHA-256 (hex), once completed.
    async fn sha256(&self) -> Option<&str> {
        self.0.sha256.as_deref()
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// When the archive is removed.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// A fresh signed link to download the archive (`null` until it is completed, and
    /// once it has expired). Every download is recorded in the audit trail.
    async fn download_link(&self, ctx: &Context<'_>) -> Result<Option<ExportDownloadLink>> {
        let request = member(ctx)?;
        let link = application(ctx).export_download_link(request, &self.0).gql()?;
        Ok(link.map(|link| ExportDownloadLink {
            url: link.path,
            expires_at: link.expires_at,
        }))
    }
}

#[derive(Default)]
pub struct OffboardingQuery;

#[Object]
impl OffboardingQuery {
    /// The tenant's newest exports, newest first (owners only; at most 50).
    async fn tenant_exports(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<TenantExport>> {
        let request = member(ctx)?;
        let first = u32::try_from(first).unwrap_or(0);
        let exports = application(ctx).tenant_exports(request, first).await.gql()?;
        Ok(exports.into_iter().map(TenantExport).collect())
    }
}

#[derive(Default)]
pub struct OffboardingMutation;

#[Object]
impl OffboardingMutation {
    /// Starts an export of the tenant's data (owners only, also while the tenant is
    /// past due, suspended or pending deletion); while one is queued or running, that
    /// one is answered. Follow it with `tenantExports`.
    async fn request_tenant_export(&self, ctx: &Context<'_>) -> Result<TenantExport> {
        let request = member(ctx)?;
        application(ctx)
            .request_tenant_export(request)
            .await
            .gql()
            .map(TenantExport)
    }

    /// Schedules the tenant's deletion (owners only): members are locked out at once,
    /// owners may cancel and export until `deletionScheduledFor`, then every row of the
    /// tenant is purged. Confirm with the tenant's slug and your password.
    async fn request_tenant_deletion(
        &self,
        ctx: &Context<'_>,
        confirm_slug: String,
        password: String,
    ) -> Result<Tenant> {
        let request = member(ctx)?;
        application(ctx)
            .request_tenant_deletion(request, &confirm_slug, &password)
            .await
            .gql()
            .map(Tenant::from)
    }

    /// Cancels the tenant's scheduled deletion (owners only); its earlier status returns.
    async fn cancel_tenant_deletion(&self, ctx: &Context<'_>) -> Result<Tenant> {
        let request = member(ctx)?;
        application(ctx)
            .cancel_tenant_deletion(request)
            .await
            .gql()
            .map(Tenant::from)
    }

    /// A signed link to download everything Tessera holds about you across tenants
    /// (profile, memberships, sessions, the audit events you did) as NDJSON.
    async fn export_my_data(&self, ctx: &Context<'_>) -> Result<ExportDownloadLink> {
        let request = member(ctx)?;
        let link = application(ctx).export_my_data(request).await.gql()?;
        Ok(ExportDownloadLink {
            url: link.path,
            expires_at: link.expires_at,
        })
    }

    /// Deletes your account: every membership removed, sessions ended, the API keys you
    /// created revoked, your email and name erased. Confirm with your password. Refused (`SOLE_OWNER`, with `extensions.tenants`) while you
    /// are the only owner of a tenant: hand it over or delete it first.
    async fn delete_my_account(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx).delete_my_account(request, &password).await.gql()?;
        Ok(true)
    }

    /// Schedules a tenant's deletion after the grace period. Platform administrators only.
    async fn schedule_tenant_deletion(&self, ctx: &Context<'_>, tenant_id: ID) -> Result<Tenant> {
        let request = member(ctx)?;
        let tenant = parse_id("tenantId", &tenant_id, TenantId::parse)?;
        let app = application(ctx);
        let scope = app.platform_scope(request).await.gql()?;
        app.schedule_tenant_deletion_as_admin(&scope, tenant)
            .await
            .gql()
            .map(Tenant::from)
    }

    /// Cancels a tenant's scheduled deletion. Platform administrators only.
    async fn cancel_scheduled_tenant_deletion(&self, ctx: &Context<'_>, tenant_id: ID) -> Result<Tenant> {
        let request = member(ctx)?;
        let tenant = parse_id("tenantId", &tenant_id, TenantId::parse)?;
        let app = application(ctx);
        let scope = app.platform_scope(request).await.gql()?;
        app.cancel_tenant_deletion_as_admin(&scope, tenant)
            .await
            .gql()
            .map(Tenant::from)
    }
}
