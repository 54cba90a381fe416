use sea_orm::entity::prelude::*;
use tessera_application::ports::BillingEventRecord;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub applied: bool,
}

super::table!(tenant);

impl Model {
    pub fn from_record(record: &BillingEventRecord) -> Self {
        Self {
            tenant_id: record.tenant_id.as_uuid(),
            id: record.id.clone(),
            event_type: record.event_type.clone(),
            occurred_at: record.occurred_at,
            received_at: record.received_at,
            applied: record.applied,
        }
    }
}
