//! Reading the caller's identity and current tenant.

use tessera_domain::{Tenant, User};

use crate::{AppError, Application, RequestContext};

impl Application {
    #[tracing::instrument(name = "me", skip_all)]
    pub async fn me(&self, ctx: &RequestContext) -> Result<User, AppError> {
        let tx = self.ports.store.begin().await?;
        tx.users()
            .find_by_id(ctx.user_id())
            .await?
            .ok_or(AppError::NotFound("user"))
    }

    #[tracing::instrument(name = "current_tenant", skip_all)]
    pub async fn current_tenant(&self, ctx: &RequestContext) -> Result<Tenant, AppError> {
        let tx = self.ports.store.begin().await?;
        tx.tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))
    }
}

impl Application {
    /// Whether any account exists (used to refuse seeding a non-empty database).
    pub async fn has_any_user(&self) -> Result<bool, AppError> {
        let tx = self.ports.store.begin().await?;
        Ok(tx.users().exists_any().await?)
    }
}
