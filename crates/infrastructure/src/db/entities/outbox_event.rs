use sea_orm::entity::prelude::*;
use tessera_application::ports::OutboxEvent;
use tessera_domain::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_type: String,
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> OutboxEvent {
        OutboxEvent {
            id: self.id,
            tenant_id: TenantId::from_uuid(self.tenant_id),
            event_type: self.event_type,
            payload: self.payload,
            created_at: self.created_at,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
        }
    }

    pub fn from_domain(event: &OutboxEvent) -> Self {
        Self {
            tenant_id: event.tenant_id.as_uuid(),
            id: event.id,
            event_type: event.event_type.clone(),
            payload: event.payload.clone(),
            created_at: event.created_at,
            delivered_at: None,
            attempts: i32::try_from(event.attempts).unwrap_or(i32::MAX),
            next_attempt_at: event.next_attempt_at,
        }
    }
}
