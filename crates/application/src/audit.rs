//! Reading the audit trail, and the security events the API layer reports (a denied
//! request, a rate limit hit). Mutations record their own events in their own
//! transactions; see each use case.

use tessera_domain::{AuditEvent, Permission};

use crate::ports::AuditFilter;
use crate::rate_limits::Quota;
use crate::{AppError, Application, Page, PageRequest, RequestContext};

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
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(AppError::validation("filter.to", "must be later than `from`"));
        }
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        Ok(tx.audit().list(&scope, filter, page).await?)
    }

    pub async fn count_audit_events(&self, ctx: &RequestContext, filter: &AuditFilter) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::AuditRead)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        Ok(tx.audit().count(&scope, filter).await?)
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
            "audit-note:{action}:{}:{}",
            ctx.tenant_id(),
            actor.id().map(|id| id.to_string()).unwrap_or_default()
        );
        let decision = self
            .ports
            .rate_limiter
            .acquire(&key, Quota::per_minute(REFUSALS_NOTED_PER_MINUTE))
            .await;
        if !decision.allowed {
            return;
        }
        let event = ctx.audit(action, "operation", operation, self.ports.clock.now());
        self.record_security_event(event).await;
    }
}
