use tessera_domain::{
    Allowance, Limit, Name, Permission, Slug, Workspace, WorkspaceId, WorkspaceMembership, WorkspaceMembershipId,
};

use super::access::grant_for;
use crate::ports::StoreError;
use crate::{Actor, AppError, Application, FieldErrors, RequestContext};

#[derive(Debug, Clone)]
pub struct CreateWorkspace {
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone)]
pub struct RenameWorkspace {
    pub id: WorkspaceId,
    pub name: String,
}

impl Application {
    /// Creates a workspace; the creator becomes its first member.
    #[tracing::instrument(level = "debug", name = "create_workspace", skip_all)]
    pub async fn create_workspace(&self, ctx: &RequestContext, input: CreateWorkspace) -> Result<Workspace, AppError> {
        let granted = ctx.authorize(Permission::WorkspacesCreate)?;
        let mut errors = FieldErrors::new();
        let name = errors.check("name", Name::parse(&input.name));
        let slug = errors.check("slug", Slug::parse(&input.slug));
        let (Some(name), Some(slug)) = (name, slug) else {
            return Err(AppError::Validation(errors));
        };
        let scope = granted.scope();
        let now = self.ports.clock.now();
        let workspace = Workspace::new(
            WorkspaceId::from_uuid(self.ports.ids.new_id()),
            scope.tenant_id(),
            slug,
            name,
            now,
        );
        // The quota is checked by the insert itself (one statement checks and inserts),
        // under the tenant's quota lock. The quota comes with the caller's cached access
        // (dropped on every replica when the plan or an override changes) while it
        // vouches for it; else the tenant's plan is read with the lock.
        let (tx, allowance) = match ctx.limits().workspaces_at(now) {
            Some(allowance) => (self.quota_tx(scope).await?, allowance),
            None => {
                let (tx, tenant) = self.quota_tx_reading(scope).await?;
                (tx, self.entitlements_of(&tenant, now).allowance(Limit::Workspaces))
            }
        };
        let limit = match allowance {
            Allowance::AtMost(limit) => Some(limit),
            Allowance::Unlimited => None,
        };
        let inserted = tx
            .workspaces()
            .insert_within(scope, &workspace, limit)
            .await
            .map_err(|error| match error {
                StoreError::Duplicate(_) => AppError::Conflict {
                    field: "slug".into(),
                    message: "a workspace with this slug already exists".into(),
                },
                other => other.into(),
            })?;
        if !inserted {
            let (_, used) = tx.tenants().quota_use(scope, Limit::Workspaces, now).await?;
            return Err(AppError::OverPlan(tessera_domain::Refusal::QuotaExceeded {
                quota: Limit::Workspaces,
                limit: limit.unwrap_or(used),
                used,
            }));
        }
        // A person who creates a workspace belongs to it; an API key is nobody's member.
        if let (Actor::User(user_id), Some(role_id)) = (ctx.actor(), ctx.role_id()) {
            tx.workspaces()
                .add_member(
                    scope,
                    &WorkspaceMembership {
                        id: WorkspaceMembershipId::from_uuid(self.ports.ids.new_id()),
                        tenant_id: scope.tenant_id(),
                        workspace_id: workspace.id,
                        user_id,
                        role_id,
                        created_at: now,
                    },
                )
                .await?;
        }
        let event = ctx
            .audit("workspace.created", "workspace", workspace.id, now)
            .change("name", None::<&str>, Some(workspace.name.as_str()))
            .change("slug", None::<&str>, Some(workspace.slug.as_str()));
        self.commit_with(tx, &event).await?;
        Ok(workspace)
    }

    /// Needs `workspaces:manage` in the tenant or through a workspace role.
    #[tracing::instrument(level = "debug", name = "rename_workspace", skip_all, fields(workspace_id = %input.id))]
    pub async fn rename_workspace(&self, ctx: &RequestContext, input: RenameWorkspace) -> Result<Workspace, AppError> {
        let name = Name::parse(&input.name).map_err(|e| AppError::validation("name", e.to_string()))?;
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, input.id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        grant.require(Permission::WorkspacesManage)?;
        let mut workspace = grant.workspace;
        let previous = workspace.name.clone();
        let now = self.ports.clock.now();
        workspace.rename(name, now);
        tx.workspaces()
            .update(scope, &workspace)
            .await
            .map_err(not_found_as_workspace)?;
        let event = ctx.audit("workspace.renamed", "workspace", workspace.id, now).change(
            "name",
            Some(previous.as_str()),
            Some(workspace.name.as_str()),
        );
        self.commit_with(tx, &event).await?;
        Ok(workspace)
    }

    /// Needs `workspaces:manage` in the tenant or through a workspace role.
    #[tracing::instrument(level = "debug", name = "delete_workspace", skip_all, fields(workspace_id = %id))]
    pub async fn delete_workspace(&self, ctx: &RequestContext, id: WorkspaceId) -> Result<WorkspaceId, AppError> {
        let scope = ctx.member_scope()?;
        let tx = self.tenant_tx(scope).await?;
        let grant = grant_for(tx.as_ref(), ctx, id)
            .await?
            .ok_or(AppError::NotFound("workspace"))?;
        grant.require(Permission::WorkspacesManage)?;
        tx.workspaces()
            .delete(scope, id)
            .await
            .map_err(not_found_as_workspace)?;
        let event = ctx
            .audit("workspace.deleted", "workspace", id, self.ports.clock.now())
            .change("name", Some(grant.workspace.name.as_str()), None::<&str>)
            .change("slug", Some(grant.workspace.slug.as_str()), None::<&str>);
        self.commit_with(tx, &event).await?;
        Ok(id)
    }
}

pub(super) fn not_found_as_workspace(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound => AppError::NotFound("workspace"),
        other => other.into(),
    }
}
