//! Platform administration: the few operations that span tenants. They need a
//! [`PlatformScope`], which only a platform administrator's request can obtain; no
//! tenant role ever implies it.

use tessera_domain::{
    AuditActor, AuditOrigin, Email, NewAuditEvent, StatusReason, Tenant, TenantId, TenantStatus, TenantStatusError,
    UserId,
};

mod operator;

pub use operator::TenantReport;

use crate::ForbiddenReason;
use crate::{AppError, Application, Page, PageRequest, RequestContext, TenantScope};

/// Proof that the caller is a platform administrator; names them for the audit trail.
#[derive(Debug)]
pub struct PlatformScope {
    pub(crate) admin_id: UserId,
    pub(crate) origin: AuditOrigin,
}

impl Application {
    /// The platform scope, for a signed-in platform administrator only.
    pub async fn platform_scope(&self, ctx: &RequestContext) -> Result<PlatformScope, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        if user.is_platform_admin {
            Ok(PlatformScope {
                admin_id: user.id,
                origin: ctx.origin().clone(),
            })
        } else {
            Err(AppError::Forbidden {
                reason: ForbiddenReason::NotPlatformAdmin,
                message: "this needs a platform administrator".into(),
            })
        }
    }

    /// Every tenant, optionally narrowed by a slug or name fragment.
    pub async fn list_all_tenants(
        &self,
        _scope: &PlatformScope,
        search: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Tenant>, AppError> {
        let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(AppError::validation("search", "must be at most 100 characters"));
        }
        let tx = self.global_tx().await?;
        Ok(tx.tenants().list_all(search.as_deref(), page).await?)
    }

    pub async fn count_all_tenants(&self, _scope: &PlatformScope, search: Option<&str>) -> Result<u64, AppError> {
        let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let tx = self.global_tx().await?;
        Ok(tx.tenants().count_all(search.as_deref()).await?)
    }

    /// Suspends or reactivates a tenant; its members' cached access is dropped at once.
    /// The change is recorded in the tenant's own audit trail, by the administrator.
    #[tracing::instrument(level = "debug", name = "set_tenant_status", skip_all, fields(tenant_id = %tenant_id))]
    pub async fn set_tenant_status(
        &self,
        scope: &PlatformScope,
        tenant_id: TenantId,
        status: TenantStatus,
        reason: StatusReason,
    ) -> Result<Tenant, AppError> {
        self.change_tenant_status(
            tenant_id,
            status,
            reason,
            AuditActor::PlatformAdmin(scope.admin_id),
            Some(scope.origin.clone()),
        )
        .await
    }

    /// Changes a tenant's status for `actor` (a platform administrator, or the billing
    /// integration), records and announces it, and drops the tenant's cached access.
    pub(crate) async fn change_tenant_status(
        &self,
        tenant_id: TenantId,
        status: TenantStatus,
        reason: StatusReason,
        actor: AuditActor,
        origin: Option<tessera_domain::AuditOrigin>,
    ) -> Result<Tenant, AppError> {
        let tx = self.global_tx().await?;
        let mut tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let before = (tenant.status, tenant.status_reason);
        let now = self.ports.clock.now();
        let changed = tenant
            .change_status(status, reason, now)
            .map_err(|refusal| match refusal {
                TenantStatusError::Deleted | TenantStatusError::PendingDeletion => AppError::Conflict {
                    field: "id".into(),
                    message: refusal.to_string(),
                },
                TenantStatusError::NotASuspension => AppError::validation("status", refusal.to_string()),
            })?;
        if !changed {
            // Already so: nothing changes, nothing is recorded or announced.
            return Ok(tenant);
        }
        let action = match status {
            TenantStatus::Suspended => "tenant.suspended",
            TenantStatus::PastDue => "tenant.past_due",
            _ => "tenant.reactivated",
        };
        let mut event = NewAuditEvent::new(
            Some(tenant.id),
            actor,
            action,
            "tenant",
            Some(tenant.id.to_string()),
            now,
        )
        .change("status", Some(before.0.as_str()), Some(status.as_str()))
        .change(
            "reason",
            before.1.map(|r| r.as_str()),
            tenant.status_reason.map(|r| r.as_str()),
        );
        if let Some(origin) = origin {
            event = event.with_origin(origin);
        }
        tx.tenants().update_status(&tenant, before.0).await?;
        // A platform administrator may act in any tenant: the event goes to the target
        // tenant's chain, which the transaction enters for it.
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        self.commit_with(tx, &event).await?;
        self.access_changed(tenant.id).await;
        tracing::info!(status = status.as_str(), "tenant status changed");
        Ok(tenant)
    }

    /// Grants or removes platform administration (the command line's `tessera admin`).
    pub async fn set_platform_admin(&self, email: &str, admin: bool) -> Result<(), AppError> {
        let email = Email::parse(email).map_err(|e| AppError::validation("email", e.to_string()))?;
        let tx = self.global_tx().await?;
        let user = tx
            .users()
            .find_by_email(&email)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        tx.users().set_platform_admin(user.id, admin).await?;
        tx.commit().await?;
        Ok(())
    }
}
