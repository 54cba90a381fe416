//! Workspaces of the current tenant.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, ID, InputObject, Lookahead, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::workspaces::{CreateWorkspace, RenameWorkspace, WorkspaceMemberChange};
use tessera_application::{AppError, PageRequest, WithPeople};
use tessera_domain::{RoleId, UserId, Workspace as DomainWorkspace, WorkspaceId, WorkspaceMembership};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id, to_graphql_error};
use super::identity::User;
use super::loaders::{
    FirstMembersOf, MemberCountOf, WorkspaceCountOf, load, load_or_refuse, load_required, prefetch, remember,
    rows_ask_for,
};
use super::pagination::{page_cost, relay_connection};
use super::roles::Role;
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["workspaces", "workspace"], Access::Member),
    ("Mutation", &["createWorkspace"], Access::Permission(Permission::WorkspacesCreate)),
    ("Mutation", &["renameWorkspace", "deleteWorkspace", "addWorkspaceMember", "updateWorkspaceMember", "removeWorkspaceMember"], Access::Member),
    ("Workspace", &["members"], Access::Member),
    ("Workspace", &["*"], Access::Inherited),
    ("WorkspaceConnection", &["*"], Access::Inherited),
    ("WorkspaceEdge", &["*"], Access::Inherited),
    ("WorkspaceMember", &["*"], Access::Inherited),
    ("MemberWorkspace", &["*"], Access::Inherited),
    ("MemberWorkspaceConnection", &["*"], Access::Inherited),
    ("MemberWorkspaceEdge", &["*"], Access::Inherited),
    ("WorkspaceMemberConnection", &["*"], Access::Inherited),
    ("WorkspaceMemberEdge", &["*"], Access::Inherited),
];

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
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

#[ComplexObject]
impl Workspace {
    /// Members of this workspace with their workspace roles.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WorkspaceMemberConnection> {
        let request = member(ctx)?;
        let id = parse_id("id", &self.id, WorkspaceId::parse)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        // A first page of each workspace in a list is batched across the workspaces, and
        // read with the users and roles its rows ask for, which the loaders are handed.
        let page = if after.is_none() && before.is_none() && last.is_none() {
            let with = WithPeople {
                users: rows_ask_for(ctx, "user"),
                roles: rows_ask_for(ctx, "role"),
            };
            let read = load(ctx, FirstMembersOf(id, page.limit, with))
                .await?
                .ok_or_else(|| to_graphql_error(&AppError::NotFound("workspace")))?;
            remember(ctx, read.users.into_iter().map(|user| (user.id, Arc::new(user)))).await;
            remember(ctx, read.roles.into_iter().map(|role| (role.id, Arc::new(role)))).await;
            read.page
        } else {
            application(ctx)
                .list_workspace_members(request, id, &page)
                .await
                .gql()?
        };
        Ok(WorkspaceMemberConnection { page, extra: id })
    }
}

pub struct WorkspaceMember(WorkspaceMembership);

impl From<&WorkspaceMembership> for WorkspaceMember {
    fn from(membership: &WorkspaceMembership) -> Self {
        Self(membership.clone())
    }
}

/// A person's membership of one workspace.
#[Object]
impl WorkspaceMember {
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        load_required(ctx, self.0.user_id, "user").await.map(User::from)
    }

    /// The workspace role: its permissions apply inside this workspace only.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        Role::of_row(ctx, self.0.role_id).await
    }

    async fn added_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

relay_connection!(
    WorkspaceMemberConnection,
    WorkspaceMemberEdge,
    WorkspaceMember,
    WorkspaceMembership,
    WorkspaceId,
    |ctx, _app, _request, workspace_id| async move {
        load_or_refuse(ctx, MemberCountOf(*workspace_id))
            .await?
            .ok_or(AppError::NotFound("workspace"))
    },
    prefetch = prefetch_workspace_memberships
);

/// A page of workspace memberships (a workspace's members, or a member's workspaces):
/// the users, workspaces and roles its rows ask for, each in one batch.
async fn prefetch_workspace_memberships(ctx: &Context<'_>, items: &[WorkspaceMembership], wanted: &Lookahead<'_>) {
    tokio::join!(
        prefetch(ctx, wanted.field("user").exists(), items.iter().map(|m| m.user_id)),
        prefetch(
            ctx,
            wanted.field("workspace").exists(),
            items.iter().map(|m| m.workspace_id)
        ),
        prefetch(ctx, wanted.field("role").exists(), items.iter().map(|m| m.role_id)),
    );
}

pub struct MemberWorkspace(WorkspaceMembership);

impl From<&WorkspaceMembership> for MemberWorkspace {
    fn from(membership: &WorkspaceMembership) -> Self {
        Self(membership.clone())
    }
}

/// One of a member's workspaces, with their role there.
#[Object]
impl MemberWorkspace {
    async fn workspace(&self, ctx: &Context<'_>) -> Result<Workspace> {
        load_required(ctx, self.0.workspace_id, "workspace")
            .await
            .map(|workspace| Workspace::from(&workspace))
    }

    /// The workspace role: its permissions apply inside this workspace only.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        Role::of_row(ctx, self.0.role_id).await
    }

    async fn added_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

relay_connection!(
    MemberWorkspaceConnection,
    MemberWorkspaceEdge,
    MemberWorkspace,
    WorkspaceMembership,
    UserId,
    |ctx, _app, _request, user_id| async move {
        load_or_refuse(ctx, WorkspaceCountOf(*user_id))
            .await?
            .ok_or(AppError::NotFound("member"))
    },
    prefetch = prefetch_workspace_memberships
);

#[derive(InputObject)]
pub struct WorkspaceMemberInput {
    pub workspace_id: ID,
    pub user_id: ID,
    /// A tenant role used as the workspace role.
    pub role_id: ID,
}

#[derive(InputObject)]
pub struct RemoveWorkspaceMemberInput {
    pub workspace_id: ID,
    pub user_id: ID,
}

fn member_change(input: WorkspaceMemberInput) -> Result<WorkspaceMemberChange> {
    Ok(WorkspaceMemberChange {
        workspace_id: parse_id("workspaceId", &input.workspace_id, WorkspaceId::parse)?,
        user_id: parse_id("userId", &input.user_id, UserId::parse)?,
        role_id: parse_id("roleId", &input.role_id, RoleId::parse)?,
    })
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
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
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

    /// Needs `workspaces:manage` there. Returns the workspace.
    async fn add_workspace_member(&self, ctx: &Context<'_>, input: WorkspaceMemberInput) -> Result<Workspace> {
        let request = member(ctx)?;
        let change = member_change(input)?;
        let workspace_id = change.workspace_id;
        let app = application(ctx);
        app.add_workspace_member(request, change).await.gql()?;
        reload(ctx, workspace_id).await
    }

    /// Needs `workspaces:manage` there. Returns the workspace.
    async fn update_workspace_member(&self, ctx: &Context<'_>, input: WorkspaceMemberInput) -> Result<Workspace> {
        let request = member(ctx)?;
        let change = member_change(input)?;
        let workspace_id = change.workspace_id;
        application(ctx).update_workspace_member(request, change).await.gql()?;
        reload(ctx, workspace_id).await
    }

    /// Needs `workspaces:manage` there, except to remove yourself. Returns the removed user's id.
    async fn remove_workspace_member(&self, ctx: &Context<'_>, input: RemoveWorkspaceMemberInput) -> Result<ID> {
        let request = member(ctx)?;
        let workspace_id = parse_id("workspaceId", &input.workspace_id, WorkspaceId::parse)?;
        let user_id = parse_id("userId", &input.user_id, UserId::parse)?;
        application(ctx)
            .remove_workspace_member(request, workspace_id, user_id)
            .await
            .gql()?;
        Ok(input.user_id)
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

async fn reload(ctx: &Context<'_>, id: WorkspaceId) -> Result<Workspace> {
    let request = member(ctx)?;
    application(ctx)
        .get_workspace(request, id)
        .await
        .gql()?
        .as_ref()
        .map(Workspace::from)
        .ok_or_else(|| super::errors::to_graphql_error(&tessera_application::AppError::NotFound("workspace")))
}
