//! The operator's command line (`tessera tenant show|set-plan|suspend|reactivate`):
//! whoever runs it holds the database's credentials, so it may act on any tenant. Its
//! changes are the platform administrators' changes, recorded in the tenant's trail as
//! the system's, with the command line as their origin.

use tessera_domain::{AuditActor, AuditOrigin, Slug, StatusReason, Tenant, TenantStatus};

use crate::plans::TenantUsage;
use crate::{AppError, Application, TenantScope};

/// What `tessera tenant show` prints.
#[derive(Debug)]
pub struct TenantReport {
    pub tenant: Tenant,
    pub usage: TenantUsage,
}

fn command_line() -> Option<AuditOrigin> {
    Some(AuditOrigin {
        ip: None,
        user_agent: Some("tessera command line".to_owned()),
        request_id: None,
    })
}

impl Application {
    /// The tenant an operator names by slug.
    pub(crate) async fn operator_tenant_id(&self, slug: &str) -> Result<tessera_domain::TenantId, AppError> {
        let slug = Slug::parse(slug).map_err(|e| AppError::validation("slug", e.to_string()))?;
        let tx = self.global_tx().await?;
        Ok(tx
            .tenants()
            .find_by_slug(&slug)
            .await?
            .ok_or(AppError::NotFound("tenant"))?
            .id)
    }

    /// The tenant named by `slug`, with its plan, overrides and what it holds.
    pub async fn operator_tenant_report(&self, slug: &str) -> Result<TenantReport, AppError> {
        let scope = TenantScope::new(self.operator_tenant_id(slug).await?);
        let tx = self.tenant_tx(&scope).await?;
        let now = self.ports.clock.now();
        let (tenant, held) = tx.tenants().usage(&scope, now).await?;
        Ok(TenantReport {
            usage: TenantUsage {
                entitlements: self.entitlements_of(&tenant, now),
                held,
            },
            tenant,
        })
    }

    /// Moves the tenant to another plan of the catalogue, as `changePlan` does.
    pub async fn operator_change_plan(&self, slug: &str, plan: &str) -> Result<Tenant, AppError> {
        let tenant_id = self.operator_tenant_id(slug).await?;
        self.change_plan_as(tenant_id, plan, AuditActor::System, command_line())
            .await
    }

    /// Suspends (or marks past due), or reactivates with `TenantStatus::Active`, as
    /// `setTenantStatus` does: the members' cached access is dropped on every replica.
    pub async fn operator_set_status(
        &self,
        slug: &str,
        status: TenantStatus,
        reason: StatusReason,
    ) -> Result<Tenant, AppError> {
        let tenant_id = self.operator_tenant_id(slug).await?;
        self.change_tenant_status(tenant_id, status, reason, AuditActor::System, command_line())
            .await
    }
}
