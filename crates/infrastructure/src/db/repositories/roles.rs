use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use tessera_application::TenantScope;
use tessera_application::ports::{RoleRepository, StoreResult};
use tessera_domain::{Name, Permission, PermissionSet, Role, RoleId, SystemRole, TenantId};

use crate::db::entities::{corrupt, role, role_permission};
use crate::db::{SeaTransaction, db_failure, scoped, unique_as};

#[async_trait]
impl RoleRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, role: &Role) -> StoreResult<()> {
        scoped::ensure_owned(scope, role.tenant_id)?;
        role::Model {
            tenant_id: role.tenant_id.as_uuid(),
            id: role.id.as_uuid(),
            name: role.name.as_str().to_owned(),
            system_key: role.system.map(|s| s.key().to_owned()),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
        .into_active_model()
        .reset_all()
        .insert(&self.txn)
        .await
        .map_err(unique_as("name"))?;
        if !role.permissions.is_empty() {
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
        }
        Ok(())
    }

    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>> {
        let Some(row) = scoped::select::<role::Entity>(scope)
            .filter(role::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
        else {
            return Ok(None);
        };
        let permissions = self.permissions_of(scope, id).await?;
        Ok(Some(Role {
            id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            name: Name::parse(&row.name).map_err(|e| corrupt("roles", "name", e))?,
            system: row.system_key.as_deref().and_then(SystemRole::from_key),
            permissions,
        }))
    }

    async fn permissions_of(&self, scope: &TenantScope, id: RoleId) -> StoreResult<PermissionSet> {
        let rows = scoped::select::<role_permission::Entity>(scope)
            .filter(role_permission::Column::RoleId.eq(id.as_uuid()))
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        // A name this build does not know (written by a newer version) grants nothing.
        Ok(rows
            .iter()
            .filter_map(|row| Permission::parse(&row.permission))
            .collect())
    }
}
