//! Platform administration: the few operations that span tenants. They need a
//! [`PlatformScope`], which only a platform administrator's request can obtain; no
//! tenant role ever implies it.

use tessera_domain::{Email, Tenant, TenantId, TenantStatus};

use crate::{AppError, Application, Page, PageRequest, RequestContext};

/// Proof that the caller is a platform administrator.
#[derive(Debug)]
pub struct PlatformScope {
    _private: (),
}

impl Application {
    /// The platform scope, for a signed-in platform administrator only.
    pub async fn platform_scope(&self, ctx: &RequestContext) -> Result<PlatformScope, AppError> {
        ctx.require_person()?;
        let tx = self.ports.store.begin().await?;
        let user = tx
            .users()
            .find_by_id(ctx.user_id())
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if user.is_platform_admin {
            Ok(PlatformScope { _private: () })
        } else {
            Err(AppError::Forbidden {
                reason: "NOT_PLATFORM_ADMIN",
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
        let tx = self.ports.store.begin().await?;
        Ok(tx.tenants().list_all(search.as_deref(), page).await?)
    }

    pub async fn count_all_tenants(&self, _scope: &PlatformScope, search: Option<&str>) -> Result<u64, AppError> {
        let search = search.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let tx = self.ports.store.begin().await?;
        Ok(tx.tenants().count_all(search.as_deref()).await?)
    }

    /// Suspends or reactivates a tenant; its members' cached access is dropped at once.
    #[tracing::instrument(name = "set_tenant_status", skip_all, fields(tenant_id = %tenant_id))]
    pub async fn set_tenant_status(
        &self,
        _scope: &PlatformScope,
        tenant_id: TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, AppError> {
        let tx = self.ports.store.begin().await?;
        let mut tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if tenant.status == TenantStatus::Deleted {
            return Err(AppError::Conflict {
                field: "id".into(),
                message: "this tenant has been deleted".into(),
            });
        }
        tenant.status = status;
        tenant.updated_at = self.ports.clock.now();
        tx.tenants().update_status(&tenant).await?;
        tx.commit().await?;
        self.access_changed(tenant.id).await;
        tracing::info!(
            status = status.as_str(),
            "tenant status changed by a platform administrator"
        );
        Ok(tenant)
    }

    /// Grants or removes platform administration (the command line's `tessera admin`).
    pub async fn set_platform_admin(&self, email: &str, admin: bool) -> Result<(), AppError> {
        let email = Email::parse(email).map_err(|e| AppError::validation("email", e.to_string()))?;
        let tx = self.ports.store.begin().await?;
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
