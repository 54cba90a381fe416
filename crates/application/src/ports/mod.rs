//! Ports: what the use cases need from storage, crypto, time and randomness, one module
//! per aggregate or concern. Adapters live in the infrastructure crate; tests may
//! supply fakes.
//!
//! Every read and write goes through a [`Transaction`]. Tenant data is reachable only
//! after [`Transaction::enter_tenant`] with a [`TenantScope`], and every tenant-scoped
//! repository method takes that scope again, so the adapter can filter by it.

mod access;
mod api_keys;
mod audit;
mod billing;
mod events;
mod mail;
mod members;
mod mfa;
mod offboarding;
mod onboarding;
mod persisted;
mod roles;
mod scim;
mod sessions;
mod sso;
mod system;
mod tenants;
mod tokens;
mod usage;
mod users;
mod webhooks;
mod workspaces;

pub use access::{
    AccessCache, AccessLookup, ApiKeyLookup, AttemptLimiter, BucketsFor, CachedApiKey, KeyBucketsFor, MemberAccess,
    RateLimiter, SpendingLookup,
};
pub use api_keys::{ApiKeyRepository, KeyCreators};
pub use audit::{AuditFilter, AuditRepository};
pub use billing::{BillingEventRecord, BillingEventRepository};
pub use events::{EventBus, EventSubscription, OutboxEvent, OutboxRepository};
pub use mail::{MailMessage, Mailer, OutgoingMail};
pub use members::{HeldRole, InvitationRepository, MemberFilter, MembershipRepository};
pub use mfa::{Authenticators, MfaRepository, SecretBox};
pub use offboarding::{
    ArchiveProgress, ArchiveStorage, ArchiveSummary, ByteStream, LinkSigner, ProgressSink, PurgeStep, TenantArchiver,
    TenantExportRepository, TenantPurger,
};
pub use onboarding::{OnboardingFunnel, OnboardingRepository};
pub use persisted::PersistedQueryStore;
pub use roles::RoleRepository;
pub use scim::{ScimGroupFilter, ScimRepository, ScimSlice, ScimUserFilter};
pub use sessions::{NewSession, SessionRepository};
pub use sso::{OidcClient, OidcClientRef, OidcError, OidcIdentity, SsoRepository};
pub use system::{Clock, IdGenerator, IssuedSecret, SecretGenerator};
pub use tenants::{CustomDomainRepository, DomainVerifier, TenantRepository, TenantSettingsRepository};
pub use tokens::{AccessClaims, TokenError, TokenIssuer};
pub use usage::{ActivityWindow, TenantActivity, TenantCalls, UsageRepository};
pub use users::{PasswordHasher, UserRepository, UserTokenRepository};
pub use webhooks::{OutgoingWebhook, WebhookOutcome, WebhookRepository, WebhookSender};
pub use workspaces::{WorkspaceRepository, WorkspaceWithMember};

use std::error::Error as StdError;

use async_trait::async_trait;
use tessera_domain::UserId;

use crate::TenantScope;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule was broken; carries the input field it concerns.
    #[error("duplicate value for {0}")]
    Duplicate(&'static str),
    /// The row to change does not exist (or is not visible in this scope).
    #[error("row not found")]
    NotFound,
    /// The row no longer holds what the change was based on: another request changed
    /// it since it was read (a conditional update matched nothing).
    #[error("row changed meanwhile")]
    Stale,
    /// The store could not answer (connection, constraint, corrupt row…).
    #[error("store failure: {0}")]
    Failure(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    pub fn failure(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Failure(error.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens units of work.
#[async_trait]
pub trait Store: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>>;
    /// A unit of work for one statement that reads rows outside any tenant (a user, a
    /// tenant by id): a store may run it without a transaction, which saves `BEGIN` (a
    /// round trip of its own) and the transaction's end. Entering a tenant or a user in
    /// it then fails, and committing it does nothing. By default, a transaction.
    async fn begin_single_read(&self) -> StoreResult<Box<dyn Transaction>> {
        self.begin().await
    }
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}

/// One database transaction. Dropping it without `commit` rolls everything back.
/// After any error the transaction must be abandoned: some stores (Postgres) refuse
/// every later statement in it, and `commit` would silently roll back.
#[async_trait]
pub trait Transaction: Send + Sync {
    /// Binds the transaction to one tenant (on Postgres: the row-level-security setting).
    async fn enter_tenant(&self, scope: &TenantScope) -> StoreResult<()>;
    /// Binds the transaction to one tenant and holds the tenant's quota lock until it
    /// ends, in the same round trip: creations under one tenant's quotas take turns, so
    /// each counts what the one before it committed.
    async fn enter_tenant_exclusively(&self, scope: &TenantScope) -> StoreResult<()>;
    /// [`Transaction::enter_tenant_exclusively`], reading the tenant's row in the same
    /// round trip (its plan and overrides give the limit a creation is checked against,
    /// see [`WorkspaceRepository::insert_within`]). `NotFound` without the tenant.
    async fn enter_tenant_for_quota(&self, scope: &TenantScope) -> StoreResult<tessera_domain::Tenant>;
    /// Lets the transaction read the given user's own memberships across tenants.
    async fn enter_user(&self, user_id: UserId) -> StoreResult<()>;

    fn users(&self) -> &dyn UserRepository;
    fn tenants(&self) -> &dyn TenantRepository;
    fn billing_events(&self) -> &dyn BillingEventRepository;
    fn memberships(&self) -> &dyn MembershipRepository;
    fn roles(&self) -> &dyn RoleRepository;
    fn workspaces(&self) -> &dyn WorkspaceRepository;
    fn sessions(&self) -> &dyn SessionRepository;
    fn invitations(&self) -> &dyn InvitationRepository;
    fn api_keys(&self) -> &dyn ApiKeyRepository;
    fn user_tokens(&self) -> &dyn UserTokenRepository;
    fn mfa(&self) -> &dyn MfaRepository;
    fn sso(&self) -> &dyn SsoRepository;
    fn scim(&self) -> &dyn ScimRepository;
    fn custom_domains(&self) -> &dyn CustomDomainRepository;
    fn onboarding(&self) -> &dyn OnboardingRepository;
    fn tenant_settings(&self) -> &dyn TenantSettingsRepository;
    fn outbox(&self) -> &dyn OutboxRepository;
    fn webhooks(&self) -> &dyn WebhookRepository;
    fn audit(&self) -> &dyn AuditRepository;
    fn usage(&self) -> &dyn UsageRepository;
    fn exports(&self) -> &dyn TenantExportRepository;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
