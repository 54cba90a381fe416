//! The workspace reads that join other tables: a workspace with one person's
//! membership and its permissions (a grant check), and the first members of several
//! workspaces with their users.

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, FromQueryResult, Order, QueryFilter, QuerySelect, QueryTrait, Select};
use tessera_application::TenantScope;
use tessera_application::ports::{StoreResult, WorkspaceWithMember};
use tessera_domain::{RoleId, User, UserId, WorkspaceId, WorkspaceMembership, WorkspaceMembershipId};

use crate::db::entities::{corrupt, workspace, workspace_member};
use crate::db::{SeaTransaction, db_failure, scoped};

/// The rows numbered within each `partition` by `(created_at, id)`, as `member_rank`.
pub(super) fn ranked(rows: Select<workspace_member::Entity>, partition: &str) -> sea_orm::sea_query::SelectStatement {
    rows.expr_as(
        Expr::cust(format!(
            "ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY created_at, id)"
        )),
        "member_rank",
    )
    .into_query()
}

impl SeaTransaction {
    pub(super) async fn workspace_with_member(
        &self,
        scope: &TenantScope,
        id: WorkspaceId,
        user: Option<UserId>,
    ) -> StoreResult<Option<WorkspaceWithMember>> {
        // The workspace, its row of `user` (none without one: `= NULL` matches nothing)
        // and that row's role's permissions, aggregated as the roles' own reads do.
        let member = |column: workspace_member::Column| Expr::col((workspace_member::Entity, column));
        let query = scoped::select::<workspace::Entity>(scope)
            .filter(workspace::Column::Id.eq(id.as_uuid()))
            .into_query()
            .left_join(
                workspace_member::Entity,
                Condition::all()
                    .add(
                        member(workspace_member::Column::TenantId)
                            .equals((workspace::Entity, workspace::Column::TenantId)),
                    )
                    .add(
                        member(workspace_member::Column::WorkspaceId)
                            .equals((workspace::Entity, workspace::Column::Id)),
                    )
                    .add(member(workspace_member::Column::UserId).eq(user.map(|user| user.as_uuid()))),
            )
            .expr_as(member(workspace_member::Column::Id), Alias::new("member_id"))
            .expr_as(member(workspace_member::Column::UserId), Alias::new("member_user_id"))
            .expr_as(member(workspace_member::Column::RoleId), Alias::new("member_role_id"))
            .expr_as(
                member(workspace_member::Column::CreatedAt),
                Alias::new("member_created_at"),
            )
            .expr_as(
                super::roles::permissions_of_role(
                    self.backend,
                    "workspace_members.tenant_id",
                    "workspace_members.role_id",
                ),
                Alias::new("member_permissions"),
            )
            .to_owned();
        let statement = self.backend.build(&query);
        let Some(row) = self.txn.query_one_raw(statement).await.map_err(db_failure)? else {
            return Ok(None);
        };
        let workspace = workspace::Model::from_query_result(&row, "")
            .map_err(db_failure)?
            .into_domain()?;
        let column = |name: &'static str| move |e: sea_orm::DbErr| corrupt("workspace_members", name, e);
        let member_id: Option<uuid::Uuid> = row.try_get("", "member_id").map_err(column("id"))?;
        let member = match member_id {
            None => None,
            Some(member_id) => {
                let membership = WorkspaceMembership {
                    id: WorkspaceMembershipId::from_uuid(member_id),
                    tenant_id: workspace.tenant_id,
                    workspace_id: workspace.id,
                    user_id: UserId::from_uuid(row.try_get("", "member_user_id").map_err(column("user_id"))?),
                    role_id: RoleId::from_uuid(row.try_get("", "member_role_id").map_err(column("role_id"))?),
                    created_at: row.try_get("", "member_created_at").map_err(column("created_at"))?,
                };
                let permissions: Option<String> =
                    row.try_get("", "member_permissions").map_err(column("permissions"))?;
                Some((membership, super::roles::permission_list(permissions.as_deref())))
            }
        };
        Ok(Some(WorkspaceWithMember { workspace, member }))
    }

    pub(super) async fn first_members_with_users(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<(WorkspaceMembership, User)>> {
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::WorkspaceId.is_in(workspace_ids.iter().map(|id| id.as_uuid())));
        // The users are joined once the rows are cut to size.
        let cut = Alias::new("ranked");
        let mut joined = super::users::joined_to_users::<workspace_member::Entity>(
            ranked(rows, "workspace_id"),
            &cut,
            workspace_member::Column::UserId,
        );
        joined
            .and_where(Expr::col((cut.clone(), Alias::new("member_rank"))).lte(per_workspace))
            .order_by((cut.clone(), workspace_member::Column::WorkspaceId), Order::Asc)
            .order_by((cut, Alias::new("member_rank")), Order::Asc);
        self.txn
            .query_all_raw(self.backend.build(&joined))
            .await
            .map_err(db_failure)?
            .iter()
            .map(|row| {
                let (member, user) = super::users::joined_row::<workspace_member::Model>(row).map_err(db_failure)?;
                Ok((member.into_domain(), user.into_domain()?))
            })
            .collect()
    }
}
