use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use tessera_application::TenantScope;
use tessera_application::ports::{MembershipRepository, StoreResult};
use tessera_domain::{Membership, UserId};

use crate::db::entities::membership;
use crate::db::{SeaTransaction, db_failure, scoped, unique_as};

#[async_trait]
impl MembershipRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, membership: &Membership) -> StoreResult<()> {
        scoped::ensure_owned(scope, membership.tenant_id)?;
        membership::Model::from_domain(membership)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(unique_as("userId"))?;
        Ok(())
    }

    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>> {
        scoped::select::<membership::Entity>(scope)
            .filter(membership::Column::UserId.eq(user_id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(membership::Model::into_domain)
            .transpose()
    }

    async fn list_own(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        // Deliberately across tenants: the caller's own rows only (on Postgres the
        // `own_memberships` policy allows exactly these).
        membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id.as_uuid()))
            .order_by_asc(membership::Column::CreatedAt)
            .order_by_asc(membership::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(membership::Model::into_domain)
            .collect()
    }
}
