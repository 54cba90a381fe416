//! Webhooks (endpoints, deliveries, redelivery) and the live `tenantEvents`
//! subscription: both carry the same JSON document for each domain event.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tessera_application::PageRequest;
use tessera_application::ports::OutboxEvent;
use tessera_application::webhooks::{EndpointWithSecret, WebhookEndpointChanges, WebhookEndpointInput};
use tessera_domain::{
    DeliveryStatus as DomainStatus, WebhookDelivery as DomainDelivery, WebhookDeliveryId,
    WebhookEndpoint as DomainEndpoint, WebhookEndpointId,
};

use super::access::{Access, Rule};
use super::context::{CloneForCaller, LiveCredential, application, member};
use super::errors::{GqlResult, parse_id, to_graphql_error};
use super::pagination::{page_cost, relay_connection};
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["webhookEventTypes", "eventTypes"], Access::Member),
    ("EventType", &["*"], Access::Inherited),
    ("Query", &["webhookEndpoints", "webhookDeliveries"], Access::Permission(Permission::WebhooksManage)),
    ("Mutation", &["createWebhookEndpoint", "updateWebhookEndpoint", "deleteWebhookEndpoint", "rotateWebhookSecret", "redeliverWebhook"], Access::Permission(Permission::WebhooksManage)),
    ("WebhookEndpoint", &["*"], Access::Inherited),
    ("WebhookEndpointConnection", &["*"], Access::Inherited),
    ("WebhookEndpointEdge", &["*"], Access::Inherited),
    // WebhookEndpointWithSecret: the signing secret, shown at creation and rotation only; every field listed
    ("WebhookEndpointWithSecret", &["endpoint", "secret"], Access::Inherited),
    ("WebhookDelivery", &["*"], Access::Inherited),
    ("WebhookDeliveryConnection", &["*"], Access::Inherited),
    ("WebhookDeliveryEdge", &["*"], Access::Inherited),
    ("Subscription", &["tenantEvents"], Access::Permission(Permission::AuditRead)),
    ("TenantEvent", &["*"], Access::Inherited),
];

fn document(payload: &str) -> Json<serde_json::Value> {
    Json(serde_json::from_str(payload).unwrap_or(serde_json::Value::Null))
}

/// Where a tenant's events are sent (never its signing secret).
#[derive(SimpleObject, Clone)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub url: String,
    pub description: String,
    /// Event types sent here; `*` means all.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why Tessera disabled it (deliveries kept failing), until it is enabled again.
    pub disabled_reason: Option<String>,
    /// Deliveries in a row that failed for good; a success resets it.
    pub failed_deliveries_in_a_row: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&DomainEndpoint> for WebhookEndpoint {
    fn from(endpoint: &DomainEndpoint) -> Self {
        Self {
            id: ID(endpoint.id.to_string()),
            url: endpoint.url.as_str().to_owned(),
            description: endpoint.description.clone(),
            events: endpoint.events.as_slice().to_vec(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            failed_deliveries_in_a_row: endpoint.failed_deliveries_in_a_row,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

impl super::pagination::Cursored for DomainEndpoint {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

relay_connection!(
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    WebhookEndpoint,
    DomainEndpoint,
    (),
    |app, request, _extra| { app.count_webhook_endpoints(request) }
);

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

/// One event sent (or to be sent) to one endpoint.
#[derive(SimpleObject, Clone)]
pub struct WebhookDelivery {
    pub id: ID,
    pub endpoint_id: ID,
    /// The event's id: receivers deduplicate on it (delivery is at least once).
    pub event_id: ID,
    pub event_type: String,
    /// The JSON body sent.
    pub payload: Json<serde_json::Value>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status on the last attempt, if it answered.
    pub response_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&DomainDelivery> for WebhookDelivery {
    fn from(delivery: &DomainDelivery) -> Self {
        let status = match delivery.status {
            DomainStatus::Pending => DeliveryStatus::Pending,
            DomainStatus::Succeeded => DeliveryStatus::Succeeded,
            DomainStatus::Failed => DeliveryStatus::Failed,
        };
        Self {
            id: ID(delivery.id.to_string()),
            endpoint_id: ID(delivery.endpoint_id.to_string()),
            event_id: ID(delivery.event_id.to_string()),
            event_type: delivery.event_type.clone(),
            payload: document(&delivery.payload),
            status,
            attempts: delivery.attempts,
            next_attempt_at: (delivery.status == DomainStatus::Pending).then_some(delivery.next_attempt_at),
            last_attempt_at: delivery.last_attempt_at,
            response_status: delivery.response_status,
            last_error: delivery.last_error.clone(),
            created_at: delivery.created_at,
            completed_at: delivery.completed_at,
        }
    }
}

impl super::pagination::Cursored for DomainDelivery {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

relay_connection!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery,
    DomainDelivery,
    WebhookEndpointId,
    |app, request, endpoint| { app.count_webhook_deliveries(request, *endpoint) }
);

/// An endpoint and its signing secret, shown only here: store it now. Verify each
/// delivery's `Tessera-Signature` with it (see the README's webhooks section).
#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

impl From<EndpointWithSecret> for WebhookEndpointWithSecret {
    fn from(created: EndpointWithSecret) -> Self {
        Self {
            endpoint: WebhookEndpoint::from(&created.endpoint),
            secret: created.secret,
        }
    }
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// `https://…` on a public address (development also takes `http` and local addresses).
    pub url: String,
    /// Event types (see `webhookEventTypes`), or `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling a disabled endpoint clears its failure count.
    pub enabled: Option<bool>,
}

/// One type of domain event, as webhooks and `tenantEvents` deliver it.
pub struct EventType(tessera_domain::EventType);

#[Object]
impl EventType {
    /// `workspace.renamed`, …: what endpoints and subscriptions select.
    async fn name(&self) -> &'static str {
        self.0.name
    }

    async fn description(&self) -> &'static str {
        self.0.description
    }

    /// The `target.type` of its documents (`workspace`, `user`, `api_key`, …).
    async fn target_type(&self) -> &'static str {
        self.0.target
    }

    /// A document of this type, as delivered (made-up ids, a fixed time).
    async fn example_payload(&self) -> Json<serde_json::Value> {
        Json(tessera_application::events::example_event_document(&self.0))
    }
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every event type an endpoint or a subscription may ask for (the names of
    /// `eventTypes`).
    async fn webhook_event_types(&self) -> Vec<&'static str> {
        tessera_domain::domain_event_types().collect()
    }

    /// The event catalogue: each type with what it means, its target and an example of
    /// the document its deliveries and subscription events carry.
    async fn event_types(&self) -> Vec<EventType> {
        tessera_domain::EVENT_CATALOGUE
            .iter()
            .map(|entry| EventType(*entry))
            .collect()
    }

    /// The tenant's webhook endpoints, oldest first. Needs `webhooks:manage`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WebhookEndpointConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_webhook_endpoints(request, &page).await.gql()?;
        Ok(WebhookEndpointConnection { page, extra: () })
    }

    /// An endpoint's deliveries, oldest first (`last` for the newest). Needs `webhooks:manage`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        let request = member(ctx)?;
        let endpoint = parse_id("endpointId", &endpoint_id, WebhookEndpointId::parse)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx)
            .list_webhook_deliveries(request, endpoint, &page)
            .await
            .gql()?;
        Ok(WebhookDeliveryConnection { page, extra: endpoint })
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Needs `webhooks:manage`. The signing secret is in the answer, and only there.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let request = member(ctx)?;
        let command = WebhookEndpointInput {
            url: input.url,
            events: input.events,
            description: input.description,
        };
        application(ctx)
            .create_webhook_endpoint(request, command)
            .await
            .gql()
            .map(WebhookEndpointWithSecret::from)
    }

    /// Needs `webhooks:manage`.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, WebhookEndpointId::parse)?;
        let changes = WebhookEndpointChanges {
            url: input.url,
            events: input.events,
            description: input.description,
            enabled: input.enabled,
        };
        application(ctx)
            .update_webhook_endpoint(request, id, changes)
            .await
            .gql()
            .map(|endpoint| WebhookEndpoint::from(&endpoint))
    }

    /// Needs `webhooks:manage`. Its deliveries go with it.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let request = member(ctx)?;
        let parsed = parse_id("id", &id, WebhookEndpointId::parse)?;
        application(ctx).delete_webhook_endpoint(request, parsed).await.gql()?;
        Ok(id)
    }

    /// Needs `webhooks:manage`. The previous secret keeps signing (as a second
    /// signature) for 24 hours, so receivers can switch without rejecting deliveries.
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpointWithSecret> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, WebhookEndpointId::parse)?;
        application(ctx)
            .rotate_webhook_secret(request, id)
            .await
            .gql()
            .map(WebhookEndpointWithSecret::from)
    }

    /// Needs `webhooks:manage`. Sends the delivery's event again as a new delivery.
    async fn redeliver_webhook(&self, ctx: &Context<'_>, delivery_id: ID) -> Result<WebhookDelivery> {
        let request = member(ctx)?;
        let id = parse_id("deliveryId", &delivery_id, WebhookDeliveryId::parse)?;
        application(ctx)
            .redeliver_webhook(request, id)
            .await
            .gql()
            .map(|delivery| WebhookDelivery::from(&delivery))
    }
}

/// A domain event of the tenant, as committed.
#[derive(SimpleObject, Clone)]
pub struct TenantEvent {
    pub id: ID,
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The same JSON document a webhook receives.
    pub payload: Json<serde_json::Value>,
}

impl From<OutboxEvent> for TenantEvent {
    fn from(event: OutboxEvent) -> Self {
        Self {
            id: ID(event.id.to_string()),
            event_type: event.event_type,
            occurred_at: event.created_at,
            payload: document(&event.payload),
        }
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The tenant's domain events as they are committed, on whichever replica (needs
    /// `audit:read`). `types` narrows them; none means every type. Over WebSocket at
    /// `/graphql/ws` (graphql-transport-ws), authenticated in `connection_init`.
    async fn tenant_events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = Result<TenantEvent>> + use<>> {
        let request = member(ctx)?;
        // A connection runs a bounded number of subscriptions; the slot is held by the
        // stream and given back when it ends.
        let slot = ctx
            .data_opt::<crate::http::SubscriptionSlots>()
            .map(crate::http::SubscriptionSlots::take)
            .transpose()
            .gql()?;
        let events = application(ctx)
            .subscribe_tenant_events(request, types.unwrap_or_default())
            .gql()?;
        let recheck = ctx.data_opt::<LiveCredential>().cloned();
        // Ends after the error that says why, once the credential no longer grants it.
        Ok(futures_util::stream::unfold(Some((events, slot)), move |state| {
            let recheck = recheck.clone();
            async move {
                let (mut events, slot) = state?;
                let event = events.next().await?;
                let allowed = match recheck {
                    Some(recheck) => recheck.0().await.and_then(|caller| events.still_allowed(&caller)),
                    None => Ok(()),
                };
                Some(match allowed {
                    Ok(()) => (Ok(TenantEvent::from(event)), Some((events, slot))),
                    Err(error) => (Err(to_graphql_error(&error.clone_for_caller())), None),
                })
            }
        }))
    }
}
