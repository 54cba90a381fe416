//! Webhooks: a tenant's endpoints (managed with `webhooks:manage`), the signed
//! deliveries of its domain events to them, retried with backoff for a bounded time,
//! and the disabling of an endpoint that keeps failing (announced as an event).

mod dispatch;

pub use dispatch::DeliveryConcurrency;
pub(crate) use dispatch::InFlight;

use chrono::Duration;
use tessera_domain::{
    EventSelection, Limit, Permission, RetryPolicy, SigningSecrets, WebhookDelivery, WebhookDeliveryId,
    WebhookEndpoint, WebhookEndpointId, WebhookUrl,
};

use crate::ports::Transaction;
use crate::rate_limits::Quota;
use crate::{AppError, Application, FieldErrors, Page, PageRequest, RequestContext, TenantScope};

const SECRET_PREFIX: &str = "whsec_";

/// The rules deliveries follow; the defaults suit production.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Development only: `http` and loopback/private addresses are accepted.
    pub allow_local_urls: bool,
    pub retry: RetryPolicy,
    /// An endpoint is disabled after this many deliveries in a row gave up.
    pub disable_after_failed_deliveries: u32,
    /// How long a claimed delivery is reserved for the worker sending it; a worker
    /// that dies leaves it to be sent again once this has passed.
    pub lease: Duration,
    /// How long a rotated-out secret keeps signing deliveries.
    pub secret_overlap: Duration,
    pub max_endpoints_per_tenant: u64,
    /// Handed-over outbox events are kept this long, then deleted.
    pub outbox_retention: Duration,
    /// Ended deliveries (the log `webhookDeliveries` shows) are kept this long.
    pub delivery_retention: Duration,
    /// How many deliveries this process sends at once, and each tenant's and
    /// endpoint's share of them.
    pub concurrency: DeliveryConcurrency,
    /// Redeliveries one tenant may ask for per hour.
    pub redeliveries_per_hour: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_local_urls: false,
            retry: RetryPolicy::default(),
            disable_after_failed_deliveries: 5,
            lease: Duration::seconds(60),
            secret_overlap: Duration::hours(24),
            max_endpoints_per_tenant: 20,
            outbox_retention: Duration::days(7),
            delivery_retention: Duration::days(30),
            concurrency: DeliveryConcurrency::default(),
            redeliveries_per_hour: 100,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointInput {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Turning a disabled endpoint back on clears its failure count.
    pub enabled: Option<bool>,
}

/// An endpoint and its signing secret (shown at creation and rotation only).
#[derive(Debug, Clone)]
pub struct EndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// The scope's endpoint, or `NOT_FOUND` (also for another tenant's id).
async fn endpoint_in(
    tx: &dyn Transaction,
    scope: &TenantScope,
    id: WebhookEndpointId,
) -> Result<WebhookEndpoint, AppError> {
    tx.webhooks()
        .find_endpoint(scope, id)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

fn events_text(events: &EventSelection) -> String {
    events.as_slice().join(",")
}

impl Application {
    fn webhook_url(&self, raw: &str) -> Result<WebhookUrl, String> {
        WebhookUrl::parse(raw, self.webhooks.allow_local_urls).map_err(|e| e.0)
    }

    fn new_signing_secret(&self) -> String {
        self.ports.secrets.signing_key(SECRET_PREFIX)
    }

    #[tracing::instrument(level = "debug", name = "create_webhook_endpoint", skip_all)]
    pub async fn create_webhook_endpoint(
        &self,
        ctx: &RequestContext,
        input: WebhookEndpointInput,
    ) -> Result<EndpointWithSecret, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let mut errors = FieldErrors::new();
        let url = errors.check("url", self.webhook_url(&input.url));
        let events = errors.check("events", EventSelection::parse(&input.events).map_err(|e| e.0));
        let description = errors.check(
            "description",
            WebhookEndpoint::check_description(input.description.as_deref().unwrap_or("")).map_err(|e| e.0),
        );
        let (Some(url), Some(events), Some(description)) = (url, events, description) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.ports.clock.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(self.ports.ids.new_id()),
            tenant_id: scope.tenant_id(),
            url,
            description,
            events,
            enabled: true,
            disabled_reason: None,
            failed_deliveries_in_a_row: 0,
            created_at: now,
            updated_at: now,
        };
        let secret = self.new_signing_secret();
        let tx = self.quota_tx(&scope).await?;
        self.entitle(tx.as_ref(), &scope, Limit::WebhookEndpoints).await?;
        if tx.webhooks().count_endpoints(&scope).await? >= self.webhooks.max_endpoints_per_tenant {
            return Err(AppError::Conflict {
                field: "url".into(),
                message: format!(
                    "a tenant may have at most {} webhook endpoints",
                    self.webhooks.max_endpoints_per_tenant
                ),
            });
        }
        let secrets = SigningSecrets {
            current: secret.clone(),
            previous: None,
        };
        tx.webhooks().insert_endpoint(&scope, &endpoint, &secrets).await?;
        let event = ctx
            .audit("webhook_endpoint.created", "webhook_endpoint", endpoint.id, now)
            .change("url", None::<&str>, Some(endpoint.url.as_str()))
            .change("events", None::<&str>, Some(events_text(&endpoint.events)))
            .change(
                "description",
                None::<&str>,
                Some(endpoint.description.as_str()).filter(|d| !d.is_empty()),
            );
        self.commit_with(tx, &event).await?;
        Ok(EndpointWithSecret { endpoint, secret })
    }

    pub async fn list_webhook_endpoints(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.webhooks().list_endpoints(&scope, page).await?)
    }

    pub async fn count_webhook_endpoints(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.webhooks().count_endpoints(&scope).await?)
    }

    #[tracing::instrument(level = "debug", name = "update_webhook_endpoint", skip_all, fields(endpoint_id = %id))]
    pub async fn update_webhook_endpoint(
        &self,
        ctx: &RequestContext,
        id: WebhookEndpointId,
        changes: WebhookEndpointChanges,
    ) -> Result<WebhookEndpoint, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let mut errors = FieldErrors::new();
        let url = changes
            .url
            .as_deref()
            .map(|raw| errors.check("url", self.webhook_url(raw)));
        let events = changes
            .events
            .as_deref()
            .map(|types| errors.check("events", EventSelection::parse(types).map_err(|e| e.0)));
        let description = changes
            .description
            .as_deref()
            .map(|raw| errors.check("description", WebhookEndpoint::check_description(raw).map_err(|e| e.0)));
        errors.into_result()?;
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(&scope).await?;
        let before = endpoint_in(tx.as_ref(), &scope, id).await?;
        let mut endpoint = before.clone();
        endpoint.edit(url.flatten(), events.flatten(), description.flatten());
        match changes.enabled {
            Some(true) if !before.enabled => endpoint.enable(),
            Some(false) => endpoint.turn_off(),
            _ => {}
        }
        if endpoint == before {
            return Ok(endpoint);
        }
        endpoint.updated_at = now;
        tx.webhooks().update_endpoint(&scope, &before, &endpoint).await?;
        if endpoint.enabled && !before.enabled {
            // A fresh start: earlier give-ups no longer count towards disabling it.
            tx.webhooks().note_outcome(&scope, id, false).await?;
        }
        let event = ctx
            .audit("webhook_endpoint.updated", "webhook_endpoint", id, now)
            .change("url", Some(before.url.as_str()), Some(endpoint.url.as_str()))
            .change(
                "events",
                Some(events_text(&before.events)),
                Some(events_text(&endpoint.events)),
            )
            .change(
                "description",
                Some(before.description.as_str()),
                Some(endpoint.description.as_str()),
            )
            .change("enabled", Some(before.enabled), Some(endpoint.enabled));
        self.commit_with(tx, &event).await?;
        Ok(endpoint)
    }

    #[tracing::instrument(level = "debug", name = "delete_webhook_endpoint", skip_all, fields(endpoint_id = %id))]
    pub async fn delete_webhook_endpoint(&self, ctx: &RequestContext, id: WebhookEndpointId) -> Result<(), AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        let endpoint = endpoint_in(tx.as_ref(), &scope, id).await?;
        tx.webhooks().delete_endpoint(&scope, id).await?;
        let event = ctx
            .audit(
                "webhook_endpoint.deleted",
                "webhook_endpoint",
                id,
                self.ports.clock.now(),
            )
            .change("url", Some(endpoint.url.as_str()), None::<&str>)
            .change("events", Some(events_text(&endpoint.events)), None::<&str>);
        self.commit_with(tx, &event).await?;
        Ok(())
    }

    /// A new signing secret; the old one keeps signing (as a second signature) for
    /// the configured overlap, so receivers can switch without rejecting deliveries.
    #[tracing::instrument(level = "debug", name = "rotate_webhook_secret", skip_all, fields(endpoint_id = %id))]
    pub async fn rotate_webhook_secret(
        &self,
        ctx: &RequestContext,
        id: WebhookEndpointId,
    ) -> Result<EndpointWithSecret, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(&scope).await?;
        let endpoint = endpoint_in(tx.as_ref(), &scope, id).await?;
        let old = tx
            .webhooks()
            .secrets(&scope, id)
            .await?
            .ok_or(AppError::NotFound("webhook endpoint"))?;
        let secret = self.new_signing_secret();
        let until = now + self.webhooks.secret_overlap;
        let secrets = SigningSecrets {
            current: secret.clone(),
            previous: Some((old.current, until)),
        };
        tx.webhooks().set_secrets(&scope, id, &secrets).await?;
        let event = ctx
            .audit("webhook_endpoint.secret_rotated", "webhook_endpoint", id, now)
            .change("previous_secret_valid_until", None::<&str>, Some(until.to_rfc3339()));
        self.commit_with(tx, &event).await?;
        Ok(EndpointWithSecret { endpoint, secret })
    }

    pub async fn list_webhook_deliveries(
        &self,
        ctx: &RequestContext,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        endpoint_in(tx.as_ref(), &scope, endpoint).await?;
        Ok(tx.webhooks().list_deliveries(&scope, endpoint, page).await?)
    }

    pub async fn count_webhook_deliveries(
        &self,
        ctx: &RequestContext,
        endpoint: WebhookEndpointId,
    ) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.webhooks().count_deliveries(&scope, endpoint).await?)
    }

    /// Sends a delivery's event again, as a new delivery with a fresh retry budget.
    /// Bounded: at most `redeliveries_per_hour` per tenant (`RATE_LIMITED` past it),
    /// and sent within the endpoint's share of the senders like any delivery.
    #[tracing::instrument(level = "debug", name = "redeliver_webhook", skip_all, fields(delivery_id = %id))]
    pub async fn redeliver_webhook(
        &self,
        ctx: &RequestContext,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, AppError> {
        let scope = ctx.authorize(Permission::WebhooksManage)?.scope().clone();
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(&scope).await?;
        let original = tx
            .webhooks()
            .find_delivery(&scope, id)
            .await?
            .ok_or(AppError::NotFound("webhook delivery"))?;
        let endpoint = endpoint_in(tx.as_ref(), &scope, original.endpoint_id).await?;
        if !endpoint.enabled {
            return Err(AppError::Conflict {
                field: "deliveryId".into(),
                message: "the endpoint is disabled; enable it first".into(),
            });
        }
        // Only a redelivery that is made spends from the tenant's budget.
        let budget = self
            .ports
            .rate_limiter
            .acquire(
                &format!("redeliver:{}", scope.tenant_id()),
                Quota {
                    limit: self.webhooks.redeliveries_per_hour.max(1),
                    period: std::time::Duration::from_secs(3600),
                },
            )
            .await;
        if !budget.allowed {
            return Err(crate::rate_limits::refused(&budget));
        }
        let delivery = WebhookDelivery::new(
            WebhookDeliveryId::from_uuid(self.ports.ids.new_id()),
            &endpoint,
            original.event_id,
            &original.event_type,
            &original.payload,
            now,
        );
        tx.webhooks()
            .insert_deliveries(&scope, std::slice::from_ref(&delivery))
            .await?;
        let event = ctx
            .audit("webhook.redelivery_requested", "webhook_delivery", delivery.id, now)
            .change("redelivery_of", None::<&str>, Some(id.to_string()))
            .change("event_id", None::<&str>, Some(delivery.event_id.to_string()));
        self.commit_with(tx, &event).await?;
        Ok(delivery)
    }
}
