//! Reading the audit trail, and the security events the API layer reports (a denied
//! request, a rate limit hit). Mutations record their own events in their own
//! transactions; see each use case.

use tessera_domain::{AuditEvent, Permission, TenantId};

use crate::platform::PlatformScope;
use crate::ports::AuditFilter;
use crate::rate_limits::Quota;
use crate::{AppError, Application, Page, PageRequest, RequestContext, TenantScope};

/// A caller is noted at most this often per kind of refusal: a flood of refused
/// requests must not become a flood of writes.
const REFUSALS_NOTED_PER_MINUTE: u32 = 1;

impl Application {
    /// The tenant's audit events (needs `audit:read`), oldest first, keyset-paginated.
    pub async fn list_audit_events(
        &self,
        ctx: &RequestContext,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, AppError> {
        let scope = ctx.authorize(Permission::AuditRead)?.scope().clone();
        check_period(filter)?;
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.audit().list(&scope, filter, page).await?)
    }

    pub async fn count_audit_events(&self, ctx: &RequestContext, filter: &AuditFilter) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::AuditRead)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.audit().count(&scope, filter).await?)
    }

    /// For platform administrators: the platform chain (events of people rather than
    /// tenants: sign-ups, email verification, password resets), or with `tenant` that
    /// tenant's chain. The transaction enters that chain like a tenant, so row level
    /// security still confines the read to it.
    pub async fn list_platform_audit_events(
        &self,
        _platform: &PlatformScope,
        tenant: Option<TenantId>,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, AppError> {
        check_period(filter)?;
        let chain = chain_scope(tenant);
        let tx = self.tenant_tx(&chain).await?;
        Ok(tx.audit().list(&chain, filter, page).await?)
    }

    pub async fn count_platform_audit_events(
        &self,
        _platform: &PlatformScope,
        tenant: Option<TenantId>,
        filter: &AuditFilter,
    ) -> Result<u64, AppError> {
        let chain = chain_scope(tenant);
        let tx = self.tenant_tx(&chain).await?;
        Ok(tx.audit().count(&chain, filter).await?)
    }

    /// Records `access.denied` for a member's refused operation (at most once a minute
    /// per caller).
    pub async fn note_access_denied(&self, ctx: &RequestContext, operation: &str) {
        self.note_refusal(ctx, "access.denied", operation).await;
    }

    /// Records `rate_limit.exceeded` for a member (at most once a minute per caller).
    pub async fn note_rate_limited(&self, ctx: &RequestContext, operation: &str) {
        self.note_refusal(ctx, "rate_limit.exceeded", operation).await;
    }

    async fn note_refusal(&self, ctx: &RequestContext, action: &'static str, operation: &str) {
        let actor = ctx.audit_actor();
        let key = format!(
            "{action}:{}:{}",
            ctx.tenant_id(),
            actor.id().map(|id| id.to_string()).unwrap_or_default()
        );
        let event = ctx.audit(action, "operation", operation, self.ports.clock.now());
        self.record_security_event_at_most_once_a_minute(key, event).await;
    }

    /// Records a security event unless one under the same `key` was recorded in the
    /// last minute, counted in the rate limiter (shared by replicas through Redis).
    pub(crate) async fn record_security_event_at_most_once_a_minute(
        &self,
        key: String,
        event: tessera_domain::NewAuditEvent,
    ) {
        let decision = self
            .ports
            .rate_limiter
            .acquire(
                &format!("audit-note:{key}"),
                Quota::per_minute(REFUSALS_NOTED_PER_MINUTE),
            )
            .await;
        if decision.allowed {
            self.record_security_event(event).await;
        }
    }
}

/// The chain of `tenant`, or the platform's (stored under the nil id).
fn chain_scope(tenant: Option<TenantId>) -> TenantScope {
    TenantScope::new(tenant.unwrap_or(TenantId::from_uuid(uuid::Uuid::nil())))
}

fn check_period(filter: &AuditFilter) -> Result<(), AppError> {
    match (filter.from, filter.to) {
        (Some(from), Some(to)) if from >= to => Err(AppError::validation("filter.to", "must be later than `from`")),
        _ => Ok(()),
    }
}
