use async_trait::async_trait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Select,
};
use tessera_application::ports::{HeldRole, RoleRepository, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{MembershipStatus, Name, Permission, PermissionSet, Role, RoleId, SystemRole, TenantId, UserId};

use crate::db::entities::{corrupt, membership, role, role_permission, workspace_member};
use crate::db::{SeaTransaction, db_failure, found, keyset, scoped, unchanged, unique_as};

/// A role row with its permissions as one comma-separated list.
#[derive(Debug, FromQueryResult)]
struct RoleWithPermissions {
    tenant_id: uuid::Uuid,
    id: uuid::Uuid,
    name: String,
    system_key: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    permission_list: Option<String>,
}

/// The permissions of the role that `tenant` and `role` (columns of the outer query)
/// name, as one comma-separated list: a correlated sub-select, under the same row level
/// security as the rest of the statement.
pub(super) fn permissions_of_role(backend: DbBackend, tenant: &str, role: &str) -> Expr {
    let aggregate = match backend {
        DbBackend::Postgres => "string_agg(p.permission, ',')",
        _ => "group_concat(p.permission, ',')",
    };
    Expr::cust(format!(
        "(SELECT {aggregate} FROM role_permissions p WHERE p.tenant_id = {tenant} AND p.role_id = {role})"
    ))
}

/// A role's permissions as its aggregated, comma-separated list reads back (`None`: it
/// has none). A name this build does not know (written by a newer version) grants
/// nothing.
pub(super) fn permission_list(list: Option<&str>) -> PermissionSet {
    list.unwrap_or("").split(',').filter_map(Permission::parse).collect()
}

impl RoleWithPermissions {
    fn into_domain(self) -> StoreResult<Role> {
        let permissions = permission_list(self.permission_list.as_deref());
        Ok(Role {
            id: RoleId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            name: Name::parse(&self.name).map_err(|e| corrupt("roles", "name", e))?,
            system: self.system_key.as_deref().and_then(SystemRole::from_key),
            permissions,
            created_at: self.created_at,
        })
    }
}

impl SeaTransaction {
    /// The selected roles with their permissions, in one statement: a correlated
    /// sub-select aggregates each role's permissions (row level security applies to
    /// both tables).
    async fn roles_with_permissions(&self, query: Select<role::Entity>) -> StoreResult<Vec<Role>> {
        query
            .column_as(
                permissions_of_role(self.backend, "roles.tenant_id", "roles.id"),
                "permission_list",
            )
            .into_model::<RoleWithPermissions>()
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(RoleWithPermissions::into_domain)
            .collect()
    }

    async fn insert_permissions(&self, role: &Role) -> StoreResult<()> {
        if role.permissions.is_empty() {
            return Ok(());
        }
        let rows = role.permissions.iter().map(|permission| {
            role_permission::Model {
                tenant_id: role.tenant_id.as_uuid(),
                role_id: role.id.as_uuid(),
                permission: permission.as_str().to_owned(),
            }
            .into_active_model()
            .reset_all()
        });
        role_permission::Entity::insert_many(rows)
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }
}

#[async_trait]
impl RoleRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, role: &Role) -> StoreResult<()> {
        scoped::ensure_owned(scope, role.tenant_id)?;
        self.insert_row(
            role::Model {
                tenant_id: role.tenant_id.as_uuid(),
                id: role.id.as_uuid(),
                name: role.name.as_str().to_owned(),
                system_key: role.system.map(|s| s.key().to_owned()),
                created_at: role.created_at,
                updated_at: role.created_at,
            },
            unique_as("name"),
        )
        .await?;
        self.insert_permissions(role).await
    }

    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>> {
        Ok(self.find_by_ids(scope, &[id]).await?.pop())
    }

    async fn find_by_ids(&self, scope: &TenantScope, ids: &[RoleId]) -> StoreResult<Vec<Role>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.roles_with_permissions(
            scoped::select::<role::Entity>(scope).filter(role::Column::Id.is_in(ids.iter().map(|id| id.as_uuid()))),
        )
        .await
    }

    async fn held_by(&self, user_id: UserId, tenant_ids: &[TenantId]) -> StoreResult<Vec<HeldRole>> {
        if tenant_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Across tenants on purpose: the caller's own memberships joined to their roles
        // (on Postgres the `own_memberships` and `own_roles` policies allow exactly these).
        let statement = Query::select()
            .columns([
                (role::Entity, role::Column::TenantId),
                (role::Entity, role::Column::Id),
                (role::Entity, role::Column::Name),
                (role::Entity, role::Column::SystemKey),
                (role::Entity, role::Column::CreatedAt),
                (role::Entity, role::Column::UpdatedAt),
            ])
            .from(role::Entity)
            .inner_join(
                membership::Entity,
                Condition::all()
                    .add(
                        Expr::col((membership::Entity, membership::Column::TenantId))
                            .equals((role::Entity, role::Column::TenantId)),
                    )
                    .add(
                        Expr::col((membership::Entity, membership::Column::RoleId))
                            .equals((role::Entity, role::Column::Id)),
                    ),
            )
            .and_where(Expr::col((membership::Entity, membership::Column::UserId)).eq(user_id.as_uuid()))
            .and_where(
                Expr::col((membership::Entity, membership::Column::TenantId))
                    .is_in(tenant_ids.iter().map(|id| id.as_uuid())),
            )
            .to_owned();
        let statement = self.txn.get_database_backend().build(&statement);
        let rows = role::Entity::find()
            .from_raw_sql(statement)
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(rows
            .into_iter()
            .map(|row| HeldRole {
                tenant_id: TenantId::from_uuid(row.tenant_id),
                role_id: RoleId::from_uuid(row.id),
                name: row.name,
                system: row.system_key.as_deref().and_then(SystemRole::from_key),
            })
            .collect())
    }

    async fn find_system(&self, scope: &TenantScope, system: SystemRole) -> StoreResult<Option<Role>> {
        let query = scoped::select::<role::Entity>(scope).filter(role::Column::SystemKey.eq(system.key()));
        Ok(self.roles_with_permissions(query).await?.pop())
    }

    async fn permissions_of(&self, scope: &TenantScope, id: RoleId) -> StoreResult<PermissionSet> {
        let rows = scoped::select::<role_permission::Entity>(scope)
            .filter(role_permission::Column::RoleId.eq(id.as_uuid()))
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(rows
            .iter()
            .filter_map(|row| Permission::parse(&row.permission))
            .collect())
    }

    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Role>> {
        let query = scoped::select::<role::Entity>(scope);
        let roles = self
            .roles_with_permissions(keyset::paginate(query, role::Column::CreatedAt, role::Column::Id, page))
            .await?;
        Ok(Page::from_scan(page, roles))
    }

    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        scoped::select::<role::Entity>(scope)
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn update(&self, scope: &TenantScope, expected: &Role, role: &Role) -> StoreResult<()> {
        scoped::ensure_owned(scope, role.tenant_id)?;
        // Writing the row first (even when only the permissions change) holds its lock
        // to the end of the transaction, so two edits of one role run one after the
        // other; each then checks it starts from what its caller read.
        let result = scoped::update::<role::Entity>(scope)
            .col_expr(role::Column::Name, Expr::value(role.name.as_str()))
            .col_expr(role::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
            .filter(role::Column::Id.eq(role.id.as_uuid()))
            .filter(role::Column::Name.eq(expected.name.as_str()))
            .exec(&self.txn)
            .await
            .map_err(unique_as("name"))?;
        unchanged(result.rows_affected)?;
        if role.permissions == expected.permissions {
            return Ok(());
        }
        if self.permissions_of(scope, role.id).await? != expected.permissions {
            return Err(tessera_application::ports::StoreError::Stale);
        }
        scoped::delete::<role_permission::Entity>(scope)
            .filter(role_permission::Column::RoleId.eq(role.id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        self.insert_permissions(role).await
    }

    async fn delete(&self, scope: &TenantScope, id: RoleId) -> StoreResult<()> {
        let result = scoped::delete::<role::Entity>(scope)
            .filter(role::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn count_holders(&self, scope: &TenantScope, id: RoleId) -> StoreResult<u64> {
        let members = scoped::select::<membership::Entity>(scope)
            .filter(membership::Column::RoleId.eq(id.as_uuid()))
            .filter(membership::Column::Status.ne(MembershipStatus::Removed.as_str()))
            .count(&self.txn)
            .await
            .map_err(db_failure)?;
        let workspace_members = scoped::select::<workspace_member::Entity>(scope)
            .filter(workspace_member::Column::RoleId.eq(id.as_uuid()))
            .count(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(members + workspace_members)
    }

    async fn reassign_holders(&self, scope: &TenantScope, from: RoleId, to: RoleId) -> StoreResult<()> {
        scoped::update::<membership::Entity>(scope)
            .col_expr(membership::Column::RoleId, Expr::value(to.as_uuid()))
            .filter(membership::Column::RoleId.eq(from.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        scoped::update::<workspace_member::Entity>(scope)
            .col_expr(workspace_member::Column::RoleId, Expr::value(to.as_uuid()))
            .filter(workspace_member::Column::RoleId.eq(from.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }
}
