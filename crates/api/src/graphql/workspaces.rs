//! Workspaces of the current tenant.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::workspaces::{CreateWorkspace, RenameWorkspace};
use tessera_domain::{Workspace as DomainWorkspace, WorkspaceId};

use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::pagination::relay_connection;

#[derive(SimpleObject, Clone)]
pub struct Workspace {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&DomainWorkspace> for Workspace {
    fn from(workspace: &DomainWorkspace) -> Self {
        Self {
            id: ID(workspace.id.to_string()),
            slug: workspace.slug.as_str().to_owned(),
            name: workspace.name.as_str().to_owned(),
            created_at: workspace.created_at,
            updated_at: workspace.updated_at,
        }
    }
}

relay_connection!(
    WorkspaceConnection,
    WorkspaceEdge,
    Workspace,
    DomainWorkspace,
    (),
    |app, request, _extra| { app.count_workspaces(request) }
);

#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    pub name: String,
    /// Unique within the tenant: 3–63 of `a-z`, `0-9` and `-`.
    pub slug: String,
}

#[derive(InputObject)]
pub struct RenameWorkspaceInput {
    pub id: ID,
    pub name: String,
}

#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// Workspaces of the current tenant (Relay connection; at most 100 per page).
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WorkspaceConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_workspaces(request, &page).await.gql()?;
        Ok(WorkspaceConnection { page, extra: () })
    }

    /// One workspace of the current tenant; null when it does not exist there.
    async fn workspace(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Workspace>> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, WorkspaceId::parse)?;
        let found = application(ctx).get_workspace(request, id).await.gql()?;
        Ok(found.as_ref().map(Workspace::from))
    }
}

#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    /// Needs `workspaces:create`.
    async fn create_workspace(&self, ctx: &Context<'_>, input: CreateWorkspaceInput) -> Result<Workspace> {
        let request = member(ctx)?;
        let command = CreateWorkspace {
            name: input.name,
            slug: input.slug,
        };
        application(ctx)
            .create_workspace(request, command)
            .await
            .gql()
            .map(|w| Workspace::from(&w))
    }

    /// Needs `workspaces:manage`.
    async fn rename_workspace(&self, ctx: &Context<'_>, input: RenameWorkspaceInput) -> Result<Workspace> {
        let request = member(ctx)?;
        let id = parse_id("id", &input.id, WorkspaceId::parse)?;
        let command = RenameWorkspace { id, name: input.name };
        application(ctx)
            .rename_workspace(request, command)
            .await
            .gql()
            .map(|w| Workspace::from(&w))
    }

    /// Needs `workspaces:manage`. Returns the id of the deleted workspace.
    async fn delete_workspace(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, WorkspaceId::parse)?;
        application(ctx)
            .delete_workspace(request, id)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
