use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{EventSelection, SigningSecrets, TenantId, WebhookEndpoint, WebhookEndpointId, WebhookUrl};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// Event types, comma-separated (`*` for all).
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failed_deliveries_in_a_row: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<WebhookEndpoint, StoreError> {
        Ok(WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            url: WebhookUrl::from_stored(self.url),
            description: self.description,
            events: EventSelection::from_stored(
                self.event_types
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failed_deliveries_in_a_row: u32::try_from(self.failed_deliveries_in_a_row).unwrap_or(0),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn secrets(&self) -> SigningSecrets {
        SigningSecrets {
            current: self.secret.clone(),
            previous: self.previous_secret.clone().zip(self.previous_secret_expires_at),
        }
    }

    pub fn from_domain(endpoint: &WebhookEndpoint, secrets: &SigningSecrets) -> Self {
        Self {
            tenant_id: endpoint.tenant_id.as_uuid(),
            id: endpoint.id.as_uuid(),
            url: endpoint.url.as_str().to_owned(),
            description: endpoint.description.clone(),
            event_types: endpoint.events.as_slice().join(","),
            secret: secrets.current.clone(),
            previous_secret: secrets.previous.as_ref().map(|(s, _)| s.clone()),
            previous_secret_expires_at: secrets.previous.as_ref().map(|(_, at)| *at),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            failed_deliveries_in_a_row: i32::try_from(endpoint.failed_deliveries_in_a_row).unwrap_or(i32::MAX),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}
