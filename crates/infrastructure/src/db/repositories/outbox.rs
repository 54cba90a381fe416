use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use tessera_application::TenantScope;
use tessera_application::ports::{OutboxEvent, OutboxRepository, StoreResult};

use crate::db::entities::outbox_event;
use crate::db::{SeaTransaction, db_failure, scoped};

#[async_trait]
impl OutboxRepository for SeaTransaction {
    async fn record(&self, scope: &TenantScope, event: &OutboxEvent) -> StoreResult<()> {
        scoped::ensure_owned(scope, event.tenant_id)?;
        outbox_event::Model::from_domain(event)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<OutboxEvent>> {
        Ok(scoped::select::<outbox_event::Entity>(scope)
            .filter(outbox_event::Column::DeliveredAt.is_null())
            .order_by_asc(outbox_event::Column::CreatedAt)
            .order_by_asc(outbox_event::Column::Id)
            .limit(limit)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(outbox_event::Model::into_domain)
            .collect())
    }
}
