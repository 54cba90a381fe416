//! In-memory fakes of every port, for unit-testing use cases without a database.
//! They are held to the same repository contract as the real store: the contract
//! suite in `tests/tests/e2e/repository_contract.rs` and `concurrent_writes.rs` runs
//! on SQLite, on PostgreSQL and on these fakes. Built for this crate's tests and,
//! with the `test-support` feature, for the test crate that runs that suite.

mod audit;
mod credentials;
mod events;
mod mfa;
mod offboarding;
mod people;
mod scim;
mod services;
mod sso;
mod store;
mod tenant_setup;
mod usage;
mod workspaces;

use std::sync::{Arc, Mutex};

pub use credentials::FakeSession;
pub use events::{FakeEventBus, FakeWebhookSender};
pub use mfa::{FakeAuthenticators, FakeSecretBox};
pub use services::*;
pub use sso::FakeOidc;
pub use store::{FakeStore, FakeTransaction, State};

use crate::{Application, AuthSettings, Ports};

/// An application over fresh fakes, and the store to inspect. Onboarding does not
/// gate here (see [`application_with`]).
pub fn application() -> (Application, FakeStore) {
    application_with(AuthSettings {
        onboarding_gate: false,
        ..AuthSettings::default()
    })
}

pub fn application_with(auth: AuthSettings) -> (Application, FakeStore) {
    let (app, store, _) = application_with_oidc(auth);
    (app, store)
}

/// [`application_with`], with the stand-in provider the single sign-on tests queue
/// identities on.
pub fn application_with_oidc(auth: AuthSettings) -> (Application, FakeStore, Arc<FakeOidc>) {
    let store = FakeStore::default();
    let oidc = Arc::new(FakeOidc::default());
    let ports = Ports {
        store: Arc::new(store.clone()),
        password_hasher: Arc::new(PlainHasher),
        token_issuer: Arc::new(ReadableTokens),
        clock: Arc::new(FixedClock),
        ids: Arc::new(SequentialIds(Mutex::new(0))),
        secrets: Arc::new(CountingSecrets(Mutex::new(0))),
        mailer: Arc::new(FakeMailer::default()),
        access_cache: Arc::new(FakeAccessCache::default()),
        attempts: Arc::new(FakeAttempts::default()),
        domain_verifier: Arc::new(FakeDomainVerifier),
        rate_limiter: Arc::new(FakeRateLimiter::default()),
        persisted_queries: Arc::new(FakePersistedQueries::default()),
        event_bus: Arc::new(FakeEventBus::default()),
        webhook_sender: Arc::new(FakeWebhookSender::default()),
        authenticators: Arc::new(FakeAuthenticators::default()),
        secret_box: Arc::new(FakeSecretBox),
        oidc: oidc.clone(),
    };
    (Application::new(ports, auth).with_plans(unlimited_plans()), store, oidc)
}

/// Signs up `email` as the owner of a new tenant `slug`: their context and access token.
pub async fn sign_up_owner(app: &Application, email: &str, slug: &str) -> (crate::RequestContext, String) {
    let session = app
        .sign_up(
            crate::identity::SignUp {
                email: email.into(),
                password: "a long enough password".into(),
                display_name: "Owner".into(),
                tenant_name: Some(format!("Tenant {slug}")),
                tenant_slug: Some(slug.into()),
                invitation_token: None,
            },
            crate::identity::ClientInfo::default(),
        )
        .await
        .expect("sign up");
    let ctx = app.authenticate(&session.access_token).await.expect("authenticate");
    (ctx, session.access_token)
}

/// The built-in plans with new tenants on `enterprise`: tests of other capabilities
/// are not about plans (the plan tests pick theirs with [`Application::with_plans`]).
pub fn unlimited_plans() -> tessera_domain::PlanCatalogue {
    tessera_domain::PlanCatalogue::built_in()
        .with_default(tessera_domain::PlanKey::parse("enterprise").expect("a plan key"))
        .expect("enterprise is a built-in plan")
}

/// An application whose event bus and webhook sender the test can see.
pub fn application_with_webhooks(
    settings: crate::webhooks::WebhookSettings,
) -> (Application, FakeStore, FakeEventBus, FakeWebhookSender) {
    let (app, store) = application_with(AuthSettings {
        onboarding_gate: false,
        ..AuthSettings::default()
    });
    let bus = FakeEventBus::default();
    let sender = FakeWebhookSender::default();
    let mut ports = app.ports.clone();
    ports.event_bus = Arc::new(bus.clone());
    ports.webhook_sender = Arc::new(sender.clone());
    let app = Application::new(ports, app.auth.clone())
        .with_webhooks(settings)
        .with_plans(unlimited_plans());
    (app, store, bus, sender)
}
