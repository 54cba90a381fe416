use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tessera_application::ports::{StoreError, StoreResult, WebhookRepository};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{
    DeliveryStatus, SigningSecrets, TenantId, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId,
};
use uuid::Uuid;

use crate::db::entities::{webhook_delivery, webhook_endpoint};
use crate::db::{SeaTransaction, db_failure, found, keyset, scoped, unchanged};

type Endpoints = webhook_endpoint::Entity;
type Deliveries = webhook_delivery::Entity;

impl SeaTransaction {
    async fn endpoint_row(
        &self,
        scope: &TenantScope,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<webhook_endpoint::Model>> {
        scoped::select::<Endpoints>(scope)
            .filter(webhook_endpoint::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)
    }
}

#[async_trait]
impl WebhookRepository for SeaTransaction {
    async fn insert_endpoint(
        &self,
        scope: &TenantScope,
        endpoint: &WebhookEndpoint,
        secrets: &SigningSecrets,
    ) -> StoreResult<()> {
        scoped::ensure_owned(scope, endpoint.tenant_id)?;
        self.insert_row(webhook_endpoint::Model::from_domain(endpoint, secrets), db_failure)
            .await
    }

    async fn find_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        self.endpoint_row(scope, id)
            .await?
            .map(webhook_endpoint::Model::into_domain)
            .transpose()
    }

    async fn list_endpoints(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<WebhookEndpoint>> {
        keyset::fetch(
            &self.txn,
            scoped::select::<Endpoints>(scope),
            webhook_endpoint::Column::CreatedAt,
            webhook_endpoint::Column::Id,
            page,
            webhook_endpoint::Model::into_domain,
        )
        .await
    }

    async fn count_endpoints(&self, scope: &TenantScope) -> StoreResult<u64> {
        scoped::select::<Endpoints>(scope)
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn enabled_endpoints(&self, scope: &TenantScope) -> StoreResult<Vec<WebhookEndpoint>> {
        scoped::select::<Endpoints>(scope)
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .order_by_asc(webhook_endpoint::Column::CreatedAt)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(webhook_endpoint::Model::into_domain)
            .collect()
    }

    async fn update_endpoint(
        &self,
        scope: &TenantScope,
        expected: &WebhookEndpoint,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<()> {
        scoped::ensure_owned(scope, endpoint.tenant_id)?;
        let result = scoped::update::<Endpoints>(scope)
            .col_expr(webhook_endpoint::Column::Url, Expr::value(endpoint.url.as_str()))
            .col_expr(
                webhook_endpoint::Column::Description,
                Expr::value(endpoint.description.as_str()),
            )
            .col_expr(
                webhook_endpoint::Column::EventTypes,
                Expr::value(endpoint.events.as_slice().join(",")),
            )
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(endpoint.enabled))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(endpoint.disabled_reason.clone()),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(endpoint.updated_at))
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id.as_uuid()))
            // A disable by the delivery worker and an edit by a person must not undo
            // each other: only over the state the change was based on.
            .filter(webhook_endpoint::Column::UpdatedAt.eq(expected.updated_at))
            .filter(webhook_endpoint::Column::Enabled.eq(expected.enabled))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        unchanged(result.rows_affected)
    }

    async fn delete_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<()> {
        let result = scoped::delete::<Endpoints>(scope)
            .filter(webhook_endpoint::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn secrets(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<SigningSecrets>> {
        Ok(self.endpoint_row(scope, id).await?.map(|row| row.secrets()))
    }

    async fn set_secrets(
        &self,
        scope: &TenantScope,
        id: WebhookEndpointId,
        secrets: &SigningSecrets,
    ) -> StoreResult<()> {
        let result = scoped::update::<Endpoints>(scope)
            .col_expr(webhook_endpoint::Column::Secret, Expr::value(secrets.current.as_str()))
            .col_expr(
                webhook_endpoint::Column::PreviousSecret,
                Expr::value(secrets.previous.as_ref().map(|(s, _)| s.clone())),
            )
            .col_expr(
                webhook_endpoint::Column::PreviousSecretExpiresAt,
                Expr::value(secrets.previous.as_ref().map(|(_, at)| *at)),
            )
            .filter(webhook_endpoint::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn note_outcome(&self, scope: &TenantScope, id: WebhookEndpointId, gave_up: bool) -> StoreResult<u32> {
        let column = webhook_endpoint::Column::FailedDeliveriesInARow;
        let next = if gave_up {
            Expr::col(column).add(1)
        } else {
            Expr::value(0)
        };
        let failures = scoped::update::<Endpoints>(scope)
            .col_expr(column, next)
            .filter(webhook_endpoint::Column::Id.eq(id.as_uuid()))
            .exec_with_returning(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)?
            .failed_deliveries_in_a_row;
        Ok(u32::try_from(failures).unwrap_or(0))
    }

    async fn insert_deliveries(&self, scope: &TenantScope, deliveries: &[WebhookDelivery]) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            scoped::ensure_owned(scope, delivery.tenant_id)?;
            rows.push(webhook_delivery::Model::from_domain(delivery).into_active_model());
        }
        Deliveries::insert_many(rows)
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn find_delivery(&self, scope: &TenantScope, id: WebhookDeliveryId) -> StoreResult<Option<WebhookDelivery>> {
        scoped::select::<Deliveries>(scope)
            .filter(webhook_delivery::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(webhook_delivery::Model::into_domain)
            .transpose()
    }

    async fn list_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        keyset::fetch(
            &self.txn,
            scoped::select::<Deliveries>(scope).filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_uuid())),
            webhook_delivery::Column::CreatedAt,
            webhook_delivery::Column::Id,
            page,
            webhook_delivery::Model::into_domain,
        )
        .await
    }

    async fn count_deliveries(&self, scope: &TenantScope, endpoint: WebhookEndpointId) -> StoreResult<u64> {
        scoped::select::<Deliveries>(scope)
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_uuid()))
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }

    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        if self.backend == DbBackend::Postgres {
            return self.due_tenants_from("webhook_due_tenants", now, limit).await;
        }
        let tenants: Vec<Uuid> = Deliveries::find()
            .select_only()
            .column(webhook_delivery::Column::TenantId)
            .distinct()
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .limit(limit)
            .into_tuple()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(tenants.into_iter().map(TenantId::from_uuid).collect())
    }

    async fn claim_due(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
        skip: &[WebhookEndpointId],
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut query = scoped::select::<Deliveries>(scope)
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now));
        if !skip.is_empty() {
            query = query.filter(webhook_delivery::Column::EndpointId.is_not_in(skip.iter().map(|id| id.as_uuid())));
        }
        let rows = query
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        scoped::update::<Deliveries>(scope)
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(lease_until))
            .filter(webhook_delivery::Column::Id.is_in(rows.iter().map(|row| row.id)))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        rows.into_iter().map(webhook_delivery::Model::into_domain).collect()
    }

    async fn update_delivery(&self, scope: &TenantScope, delivery: &WebhookDelivery) -> StoreResult<()> {
        scoped::ensure_owned(scope, delivery.tenant_id)?;
        let row = webhook_delivery::Model::from_domain(delivery);
        let result = scoped::update::<Deliveries>(scope)
            .col_expr(webhook_delivery::Column::Status, Expr::value(row.status))
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(row.attempts))
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(row.next_attempt_at),
            )
            .col_expr(
                webhook_delivery::Column::LastAttemptAt,
                Expr::value(row.last_attempt_at),
            )
            .col_expr(
                webhook_delivery::Column::ResponseStatus,
                Expr::value(row.response_status),
            )
            .col_expr(webhook_delivery::Column::LastError, Expr::value(row.last_error))
            .col_expr(webhook_delivery::Column::CompletedAt, Expr::value(row.completed_at))
            .filter(webhook_delivery::Column::Id.eq(row.id))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn prune_deliveries(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let result = scoped::delete::<Deliveries>(scope)
            .filter(webhook_delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::CompletedAt.lt(before))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected)
    }

    async fn fail_pending(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let result = scoped::update::<Deliveries>(scope)
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(DeliveryStatus::Failed.as_str()),
            )
            .col_expr(webhook_delivery::Column::LastError, Expr::value(reason))
            .col_expr(webhook_delivery::Column::CompletedAt, Expr::value(at))
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_uuid()))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected)
    }
}
