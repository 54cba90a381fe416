use tessera_domain::{Workspace, WorkspaceId};

use crate::{AppError, Application, Page, PageRequest, RequestContext};

impl Application {
    #[tracing::instrument(name = "list_workspaces", skip_all)]
    pub async fn list_workspaces(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<Workspace>, AppError> {
        let scope = ctx.member_scope();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx.workspaces().list(scope, page).await?)
    }

    #[tracing::instrument(name = "count_workspaces", skip_all)]
    pub async fn count_workspaces(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.member_scope();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx.workspaces().count(scope).await?)
    }

    /// `None` when the workspace does not exist in the caller's tenant.
    #[tracing::instrument(name = "get_workspace", skip_all, fields(workspace_id = %id))]
    pub async fn get_workspace(&self, ctx: &RequestContext, id: WorkspaceId) -> Result<Option<Workspace>, AppError> {
        let scope = ctx.member_scope();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(scope).await?;
        Ok(tx.workspaces().find_by_id(scope, id).await?)
    }
}
