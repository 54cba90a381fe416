use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select};
use tessera_application::ports::{StoreError, StoreResult, WorkspaceRepository, WorkspaceWithMember};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{User, UserId, Workspace, WorkspaceId, WorkspaceMembership};

use crate::db::entities::{workspace, workspace_member};
use crate::db::{SeaTransaction, db_failure, found, keyset, scoped, unique_as};

/// The ids of the workspaces `user_id` belongs to (tenant-scoped), as a sub-select.
fn workspaces_of(scope: &TenantScope, user_id: UserId) -> sea_orm::sea_query::SelectStatement {
    scoped::select::<workspace_member::Entity>(scope)
        .select_only()
        .column(workspace_member::Column::WorkspaceId)
        .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
        .into_query()
}

/// The tenant's workspaces, or only those `member_of` belongs to.
fn visible(scope: &TenantScope, member_of: Option<UserId>) -> Select<workspace::Entity> {
    let query = scoped::select::<workspace::Entity>(scope);
    match member_of {
        None => query,
        Some(user_id) => query.filter(workspace::Column::Id.in_subquery(workspaces_of(scope, user_id))),
    }
}

/// Workspace memberships narrowed to workspaces `visible_to` also belongs to.
fn seen_by(
    scope: &TenantScope,
    rows: Select<workspace_member::Entity>,
    visible_to: Option<UserId>,
) -> Select<workspace_member::Entity> {
    match visible_to {
        None => rows,
        Some(viewer) => rows.filter(workspace_member::Column::WorkspaceId.in_subquery(workspaces_of(scope, viewer))),
    }
}

/// One user's workspace memberships, as `visible_to` may see them.
fn of_member(scope: &TenantScope, user_id: UserId, visible_to: Option<UserId>) -> Select<workspace_member::Entity> {
    seen_by(scope, scoped::select::<workspace_member::Entity>(scope), visible_to)
        .filter(workspace_member::Column::UserId.eq(user_id.as_uuid()))
}

/// One group of a grouped count.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Counted {
    key: uuid::Uuid,
    total: i64,
}

impl SeaTransaction {
    /// One keyset page of workspace memberships.
    async fn memberships_page(
        &self,
        query: Select<workspace_member::Entity>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
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

    /// Counts the rows per value of `column`, in one statement.
    async fn count_by(
        &self,
        rows: Select<workspace_member::Entity>,
        column: workspace_member::Column,
    ) -> StoreResult<impl Iterator<Item = (uuid::Uuid, u64)>> {
        use sea_orm::QuerySelect;
        let counted = rows
            .select_only()
            .column_as(column, "key")
            .column_as(workspace_member::Column::Id.count(), "total")
            .group_by(column)
            .into_model::<Counted>()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(counted
            .into_iter()
            .map(|row| (row.key, u64::try_from(row.total).unwrap_or_default())))
    }

    /// Ranks the rows within each value of `partition` by `(created_at, id)` and keeps
    /// the first `per_partition` of each: one statement for any number of partitions.
    async fn first_ranks(
        &self,
        rows: Select<workspace_member::Entity>,
        partition: &str,
        per_partition: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        use sea_orm::EntityTrait;
        use sea_orm::sea_query::{Alias, Asterisk, ExprTrait, Query};
        let ranked = super::workspace_reads::ranked(rows, partition);
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(Alias::new("member_rank")).lte(per_partition))
            .order_by(Alias::new(partition), sea_orm::Order::Asc)
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
}

#[async_trait]
impl WorkspaceRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, ws: &Workspace) -> StoreResult<()> {
        scoped::ensure_owned(scope, ws.tenant_id)?;
        self.insert_row(workspace::Model::from_domain(ws), unique_as("slug"))
            .await
    }

    async fn insert_within(&self, scope: &TenantScope, ws: &Workspace, limit: Option<u64>) -> StoreResult<bool> {
        scoped::ensure_owned(scope, ws.tenant_id)?;
        let Some(limit) = limit else {
            return self.insert(scope, ws).await.map(|()| true);
        };
        let row = workspace::Model::from_domain(ws);
        // `INSERT … SELECT <values> WHERE <held> < limit`: checked and inserted at once,
        // `held` being the tenant's count the database keeps (one row, whatever it holds).
        let held = super::tenants::held(tessera_domain::Limit::Workspaces, row.tenant_id, row.created_at);
        let mut values = Query::select();
        values
            .exprs([
                Expr::value(row.tenant_id),
                Expr::value(row.id),
                Expr::value(row.slug),
                Expr::value(row.name),
                Expr::value(row.created_at),
                Expr::value(row.updated_at),
            ])
            .and_where(held.lt(i64::try_from(limit).unwrap_or(i64::MAX)));
        let insert = Query::insert()
            .into_table(workspace::Entity)
            .columns([
                workspace::Column::TenantId,
                workspace::Column::Id,
                workspace::Column::Slug,
                workspace::Column::Name,
                workspace::Column::CreatedAt,
                workspace::Column::UpdatedAt,
            ])
            .select_from(values)
            .map_err(StoreError::failure)?
            .to_owned();
        let result = ConnectionTrait::execute(&self.txn, &insert)
            .await
            .map_err(unique_as("slug"))?;
        Ok(result.rows_affected() == 1)
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

    async fn find_with_member(
        &self,
        scope: &TenantScope,
        id: WorkspaceId,
        user: Option<UserId>,
    ) -> StoreResult<Option<WorkspaceWithMember>> {
        self.workspace_with_member(scope, id, user).await
    }

    async fn find_by_ids(&self, scope: &TenantScope, ids: &[WorkspaceId]) -> StoreResult<Vec<Workspace>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        scoped::select::<workspace::Entity>(scope)
            .filter(workspace::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(workspace::Model::into_domain)
            .collect()
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
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.is_in(workspace_ids.iter().map(|id| id.as_uuid())));
        self.first_ranks(rows, "workspace_id", per_workspace).await
    }

    async fn first_members_with_users_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<(WorkspaceMembership, User)>> {
        self.first_members_with_users(scope, workspace_ids, per_workspace).await
    }

    async fn first_workspaces_of(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
        per_user: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = seen_by(scope, scoped::select::<workspace_member::Entity>(scope), visible_to)
            .filter(workspace_member::Column::UserId.is_in(user_ids.iter().map(|id| id.as_uuid())));
        self.first_ranks(rows, "user_id", per_user).await
    }

    async fn list_of_member(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        visible_to: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        self.memberships_page(of_member(scope, user_id, visible_to), page).await
    }

    async fn count_of_members(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
    ) -> StoreResult<Vec<(UserId, u64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = seen_by(scope, scoped::select::<workspace_member::Entity>(scope), visible_to)
            .filter(workspace_member::Column::UserId.is_in(user_ids.iter().map(|id| id.as_uuid())));
        let counted = self.count_by(rows, workspace_member::Column::UserId).await?;
        Ok(counted.map(|(id, n)| (UserId::from_uuid(id), n)).collect())
    }

    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let query = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.eq(workspace_id.as_uuid()));
        self.memberships_page(query, page).await
    }

    async fn count_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<(WorkspaceId, u64)>> {
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.is_in(workspace_ids.iter().map(|id| id.as_uuid())));
        let counted = self.count_by(rows, workspace_member::Column::WorkspaceId).await?;
        Ok(counted.map(|(id, n)| (WorkspaceId::from_uuid(id), n)).collect())
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
        self.insert_row(
            workspace_member::Model {
                tenant_id: member.tenant_id.as_uuid(),
                id: member.id.as_uuid(),
                workspace_id: member.workspace_id.as_uuid(),
                user_id: member.user_id.as_uuid(),
                role_id: member.role_id.as_uuid(),
                created_at: member.created_at,
            },
            unique_as("userId"),
        )
        .await
    }
}
