use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select,
};
use tessera_application::ports::{StoreResult, WorkspaceRepository};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{UserId, Workspace, WorkspaceId, WorkspaceMembership};

use crate::db::entities::{workspace, workspace_member};
use crate::db::{SeaTransaction, db_failure, found, keyset, scoped, unique_as};

/// The tenant's workspaces, or only those `member_of` belongs to (a sub-select on
/// workspace members, itself tenant-scoped).
fn visible(scope: &TenantScope, member_of: Option<UserId>) -> Select<workspace::Entity> {
    let query = scoped::select::<workspace::Entity>(scope);
    match member_of {
        None => query,
        Some(user_id) => {
            let memberships = scoped::select::<workspace_member::Entity>(scope)
                .select_only()
                .column(workspace_member::Column::WorkspaceId)
                .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
                .into_query();
            query.filter(workspace::Column::Id.in_subquery(memberships))
        }
    }
}

#[async_trait]
impl WorkspaceRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, ws: &Workspace) -> StoreResult<()> {
        scoped::ensure_owned(scope, ws.tenant_id)?;
        workspace::Model::from_domain(ws)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(unique_as("slug"))?;
        Ok(())
    }

    async fn find_by_id(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        scoped::select::<workspace::Entity>(scope)
            .filter(workspace::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(workspace::Model::into_domain)
            .transpose()
    }

    async fn update(&self, scope: &TenantScope, ws: &Workspace) -> StoreResult<()> {
        scoped::ensure_owned(scope, ws.tenant_id)?;
        let result = scoped::update::<workspace::Entity>(scope)
            .col_expr(workspace::Column::Name, Expr::value(ws.name.as_str()))
            .col_expr(workspace::Column::UpdatedAt, Expr::value(ws.updated_at))
            .filter(workspace::Column::Id.eq(ws.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn delete(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<()> {
        let result = scoped::delete::<workspace::Entity>(scope)
            .filter(workspace::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        member_of: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Workspace>> {
        let query = visible(scope, member_of);
        keyset::fetch(
            &self.txn,
            query,
            workspace::Column::CreatedAt,
            workspace::Column::Id,
            page,
            workspace::Model::into_domain,
        )
        .await
    }

    async fn count(&self, scope: &TenantScope, member_of: Option<UserId>) -> StoreResult<u64> {
        visible(scope, member_of).count(&self.txn).await.map_err(db_failure)
    }

    async fn find_member(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Option<WorkspaceMembership>> {
        Ok(scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.eq(workspace_id.as_uuid()))
            .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(workspace_member::Model::into_domain))
    }

    async fn memberships_of_user(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
            .filter(workspace_member::Column::WorkspaceId.is_in(workspace_ids.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(workspace_member::Model::into_domain)
            .collect())
    }

    async fn first_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        use sea_orm::EntityTrait;
        use sea_orm::sea_query::{Alias, Asterisk, ExprTrait, Query};
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Rank each workspace's members, then keep the first ranks: one statement for
        // any number of workspaces. The inner select is the tenant-scoped one.
        let ranked = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.is_in(workspace_ids.iter().map(|id| id.as_uuid())))
            .expr_as(
                Expr::cust("ROW_NUMBER() OVER (PARTITION BY workspace_id ORDER BY created_at, id)"),
                "member_rank",
            )
            .into_query();
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(Alias::new("member_rank")).lte(per_workspace))
            .order_by(Alias::new("workspace_id"), sea_orm::Order::Asc)
            .order_by(Alias::new("member_rank"), sea_orm::Order::Asc)
            .to_owned();
        let statement = self.backend.build(&outer);
        Ok(workspace_member::Entity::find()
            .from_raw_sql(statement)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(workspace_member::Model::into_domain)
            .collect())
    }

    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let query = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.eq(workspace_id.as_uuid()));
        keyset::fetch(
            &self.txn,
            query,
            workspace_member::Column::CreatedAt,
            workspace_member::Column::Id,
            page,
            |row| Ok(workspace_member::Model::into_domain(row)),
        )
        .await
    }

    async fn count_members(&self, scope: &TenantScope, workspace_id: WorkspaceId) -> StoreResult<u64> {
        scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.eq(workspace_id.as_uuid()))
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn update_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        scoped::ensure_owned(scope, member.tenant_id)?;
        let result = scoped::update::<workspace_member::Entity>(scope)
            .col_expr(workspace_member::Column::RoleId, Expr::value(member.role_id.as_uuid()))
            .filter(workspace_member::Column::Id.eq(member.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn remove_member(&self, scope: &TenantScope, workspace_id: WorkspaceId, user_id: UserId) -> StoreResult<()> {
        let result = scoped::delete::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.eq(workspace_id.as_uuid()))
            .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn remove_member_everywhere(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<()> {
        scoped::delete::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn add_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        scoped::ensure_owned(scope, member.tenant_id)?;
        workspace_member::Model {
            tenant_id: member.tenant_id.as_uuid(),
            id: member.id.as_uuid(),
            workspace_id: member.workspace_id.as_uuid(),
            user_id: member.user_id.as_uuid(),
            role_id: member.role_id.as_uuid(),
            created_at: member.created_at,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.txn)
        .await
        .map_err(unique_as("userId"))?;
        Ok(())
    }
}
