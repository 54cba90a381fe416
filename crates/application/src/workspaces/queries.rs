use tessera_domain::{Workspace, WorkspaceId};

use super::access::{Visibility, grant_for};
use crate::{AppError, Application, Page, PageRequest, RequestContext};

impl Application {
    /// Every workspace for holders of `workspaces:manage`; otherwise the person's own
    /// (none for an API key).
    #[tracing::instrument(level = "debug", name = "list_workspaces", skip_all)]
    pub async fn list_workspaces(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<Workspace>, AppError> {
        let scope = ctx.member_scope()?;
        let Ok(member_of) = Visibility::of(ctx).member_filter() else {
            return Ok(Page::empty());
        };
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.workspaces().list(scope, member_of, page).await?)
    }

    #[tracing::instrument(level = "debug", name = "count_workspaces", skip_all)]
    pub async fn count_workspaces(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.member_scope()?;
        let Ok(member_of) = Visibility::of(ctx).member_filter() else {
            return Ok(0);
        };
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.workspaces().count(scope, member_of).await?)
    }

    /// `None` when the workspace does not exist in the caller's tenant or is not visible to them.
    #[tracing::instrument(level = "debug", name = "get_workspace", skip_all, fields(workspace_id = %id))]
    pub async fn get_workspace(&self, ctx: &RequestContext, id: WorkspaceId) -> Result<Option<Workspace>, AppError> {
        let tx = self.tenant_tx(ctx.member_scope()?).await?;
        Ok(grant_for(tx.as_ref(), ctx, id).await?.map(|grant| grant.workspace))
    }
}
