use tessera_domain::{Role, RoleId};

use crate::{AppError, Application, Page, PageRequest, RequestContext};

impl Application {
    #[tracing::instrument(level = "debug", name = "list_roles", skip_all)]
    pub async fn list_roles(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<Role>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.roles().list(scope, page).await?)
    }

    pub async fn count_roles(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.roles().count(scope).await?)
    }

    #[tracing::instrument(level = "debug", name = "get_role", skip_all, fields(role_id = %id))]
    pub async fn get_role(&self, ctx: &RequestContext, id: RoleId) -> Result<Option<Role>, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.roles().find_by_id(scope, id).await?)
    }
}
