//! Tessera's use cases, the ports they need, and the authorization decisions.
//! Depends on the domain only: no storage, transport or framework crate is named here.

pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod context;
pub mod error;
pub mod events;
pub mod identity;
pub mod invitations;
pub mod members;
pub mod offboarding;
pub mod onboarding;
pub mod pagination;
mod people;
pub mod persisted;
pub mod plans;
pub mod platform;
pub mod ports;
pub mod rate_limits;
pub mod roles;
pub mod scim;
pub mod sso;
pub mod tenants;
mod unit_of_work;
pub mod usage;
pub mod webhooks;
mod wire_table;
pub mod workspaces;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod use_case_tests;

use std::sync::Arc;

pub use context::{Actor, Authorized, RequestContext, Standing, TenantScope};
pub use error::{AppError, FieldErrors, ForbiddenReason};
pub use pagination::{Cursor, Page, PageRequest};
pub use people::{PageWithPeople, WithPeople};

/// Lifetimes of issued credentials.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_token_ttl: chrono::Duration,
    pub refresh_token_ttl: chrono::Duration,
    pub invitation_ttl: chrono::Duration,
    /// Failed log-ins allowed per account, and per client address, in one window.
    pub max_failed_logins_per_account: u32,
    pub max_failed_logins_per_ip: u32,
    /// The platform's own domain (tenants live at `<slug>.<base>`): no tenant may claim
    /// a custom domain within it.
    pub base_domain: Option<String>,
    /// Until a person finishes onboarding, tenant work answers `ONBOARDING_INCOMPLETE`.
    pub onboarding_gate: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: chrono::Duration::minutes(15),
            refresh_token_ttl: chrono::Duration::days(30),
            invitation_ttl: chrono::Duration::days(7),
            max_failed_logins_per_account: 5,
            max_failed_logins_per_ip: 50,
            base_domain: None,
            onboarding_gate: true,
        }
    }
}

/// Everything the use cases need from the outside world, handed in by the composition root.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn ports::Store>,
    pub password_hasher: Arc<dyn ports::PasswordHasher>,
    pub token_issuer: Arc<dyn ports::TokenIssuer>,
    pub clock: Arc<dyn ports::Clock>,
    pub ids: Arc<dyn ports::IdGenerator>,
    pub secrets: Arc<dyn ports::SecretGenerator>,
    pub mailer: Arc<dyn ports::Mailer>,
    pub access_cache: Arc<dyn ports::AccessCache>,
    pub attempts: Arc<dyn ports::AttemptLimiter>,
    pub domain_verifier: Arc<dyn ports::DomainVerifier>,
    pub rate_limiter: Arc<dyn ports::RateLimiter>,
    pub persisted_queries: Arc<dyn ports::PersistedQueryStore>,
    pub event_bus: Arc<dyn ports::EventBus>,
    pub webhook_sender: Arc<dyn ports::WebhookSender>,
    pub authenticators: Arc<dyn ports::Authenticators>,
    pub secret_box: Arc<dyn ports::SecretBox>,
    pub oidc: Arc<dyn ports::OidcClient>,
}

/// The application facade. Use cases are grouped by aggregate in their own modules
/// (`identity`, `tenants`, `workspaces`), each adding methods here.
#[derive(Clone)]
pub struct Application {
    ports: Ports,
    auth: AuthSettings,
    rate_limits: rate_limits::RateLimitSettings,
    webhooks: webhooks::WebhookSettings,
    persisted: persisted::PersistedQuerySettings,
    plans: Arc<tessera_domain::PlanCatalogue>,
    billing: billing::BillingSettings,
    metering: usage::MeteringSettings,
    /// This process's usage counts not yet flushed.
    meter: Arc<usage::Meter>,
    /// Webhook sends in flight in this process (shared by its delivery workers).
    deliveries_in_flight: Arc<std::sync::Mutex<webhooks::InFlight>>,
    /// Exports and deletions, once their adapters are handed in.
    offboarding: Option<Arc<offboarding::Offboarding>>,
    sso: sso::SsoSettings,
}

impl Application {
    pub fn new(ports: Ports, auth: AuthSettings) -> Self {
        Self {
            ports,
            auth,
            rate_limits: rate_limits::RateLimitSettings::default(),
            webhooks: webhooks::WebhookSettings::default(),
            persisted: persisted::PersistedQuerySettings::default(),
            plans: Arc::new(tessera_domain::PlanCatalogue::built_in()),
            billing: billing::BillingSettings::default(),
            metering: usage::MeteringSettings::default(),
            meter: Arc::default(),
            deliveries_in_flight: Arc::default(),
            offboarding: None,
            sso: sso::SsoSettings::default(),
        }
    }

    /// Where single sign-on sends browsers back, and which issuers it accepts.
    pub fn with_sso(mut self, settings: sso::SsoSettings) -> Self {
        self.sso = settings;
        self
    }

    /// Replaces the default budget for registering persisted documents.
    pub fn with_persisted_queries(mut self, settings: persisted::PersistedQuerySettings) -> Self {
        self.persisted = settings;
        self
    }

    /// Replaces the default webhook rules (retries, disabling, local URLs).
    pub fn with_webhooks(mut self, settings: webhooks::WebhookSettings) -> Self {
        self.webhooks = settings;
        self
    }

    /// Replaces the default quotas.
    pub fn with_rate_limits(mut self, settings: rate_limits::RateLimitSettings) -> Self {
        self.rate_limits = settings;
        self
    }

    /// After a committed change to roles or memberships of a tenant.
    pub(crate) async fn access_changed(&self, tenant_id: tessera_domain::TenantId) {
        self.ports.access_cache.invalidate_tenant(tenant_id).await;
    }

    /// Records a security event that has no transaction of its own (a refused log-in,
    /// a denied request, a revoked key presented again): its own short transaction.
    /// Never fails the request it describes; a failure to record is logged.
    pub(crate) async fn record_security_event(&self, event: tessera_domain::NewAuditEvent) {
        let result: Result<(), AppError> = async {
            let tx = self.global_tx().await?;
            if let Some(tenant_id) = event.tenant_id {
                tx.enter_tenant(&TenantScope::new(tenant_id)).await?;
            }
            tx.audit().append(&event).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, action = %event.action, "recording a security event failed");
        }
    }

    /// Readiness: can the store answer?
    pub async fn check_store(&self) -> Result<(), AppError> {
        self.ports.store.ping().await.map_err(AppError::from)
    }
}
