use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{DeliveryStatus, TenantId, WebhookDelivery, WebhookDeliveryId, WebhookEndpointId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<WebhookDelivery, StoreError> {
        Ok(WebhookDelivery {
            id: WebhookDeliveryId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            endpoint_id: WebhookEndpointId::from_uuid(self.endpoint_id),
            event_id: self.event_id,
            event_type: self.event_type,
            payload: self.payload,
            status: DeliveryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("webhook_deliveries", "status", &self.status))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
            last_attempt_at: self.last_attempt_at,
            response_status: self.response_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            created_at: self.created_at,
            completed_at: self.completed_at,
        })
    }

    pub fn from_domain(delivery: &WebhookDelivery) -> Self {
        Self {
            tenant_id: delivery.tenant_id.as_uuid(),
            id: delivery.id.as_uuid(),
            endpoint_id: delivery.endpoint_id.as_uuid(),
            event_id: delivery.event_id,
            event_type: delivery.event_type.clone(),
            payload: delivery.payload.clone(),
            status: delivery.status.as_str().to_owned(),
            attempts: i32::try_from(delivery.attempts).unwrap_or(i32::MAX),
            next_attempt_at: delivery.next_attempt_at,
            last_attempt_at: delivery.last_attempt_at,
            response_status: delivery.response_status.map(i32::from),
            last_error: delivery.last_error.clone(),
            created_at: delivery.created_at,
            completed_at: delivery.completed_at,
        }
    }
}
