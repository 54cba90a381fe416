//! The GraphQL schema: one `XQuery`/`XMutation` pair per aggregate, merged here.

pub mod access;
pub mod access_plan;
mod analytics;
mod api_keys;
mod audit;
mod context;
pub mod cookies;
pub mod document_depth;
mod domains;
mod errors;
mod identity;
mod invitations;
pub mod loaders;
mod members;
mod offboarding;
mod onboarding;
mod pagination;
mod plans;
mod platform;
mod roles;
mod scim;
mod second_factor;
mod sessions;
mod sso;
mod tenant_setup;
mod tenants;
mod webhooks;
mod workspaces;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};
use tessera_application::Application;

pub(crate) use context::CloneForCaller;
pub use context::{Caller, ClientOrigin, LiveCredential};
pub use errors::{ErrorCode, to_graphql_error};

#[derive(MergedObject, Default)]
pub struct Query(
    identity::IdentityQuery,
    tenants::TenantQuery,
    domains::DomainQuery,
    onboarding::OnboardingQuery,
    tenant_setup::TenantSetupQuery,
    roles::RoleQuery,
    members::MemberQuery,
    invitations::InvitationQuery,
    sessions::SessionQuery,
    second_factor::SecondFactorQuery,
    sso::SsoQuery,
    scim::ScimQuery,
    api_keys::ApiKeyQuery,
    audit::AuditQuery,
    platform::PlatformQuery,
    plans::PlanQuery,
    webhooks::WebhookQuery,
    workspaces::WorkspaceQuery,
    analytics::AnalyticsQuery,
    offboarding::OffboardingQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    identity::IdentityMutation,
    identity::EmailFlowMutation,
    roles::RoleMutation,
    members::MemberMutation,
    invitations::InvitationMutation,
    sessions::SessionMutation,
    second_factor::SecondFactorMutation,
    sso::SsoMutation,
    scim::ScimMutation,
    tenants::TenantMutation,
    domains::DomainMutation,
    onboarding::OnboardingMutation,
    tenant_setup::TenantSetupMutation,
    api_keys::ApiKeyMutation,
    platform::PlatformMutation,
    plans::PlanMutation,
    webhooks::WebhookMutation,
    workspaces::WorkspaceMutation,
    offboarding::OffboardingMutation,
);

pub use webhooks::Subscription;

pub type TesseraSchema = Schema<Query, Mutation, Subscription>;

/// Limits that keep hostile documents cheap to refuse.
#[derive(Debug, Clone)]
pub struct SchemaLimits {
    pub max_depth: usize,
    /// List fields weigh their page size times their items' cost.
    pub max_complexity: usize,
    /// Introspection for everyone; when off, only for members holding `schema:read`.
    pub introspection: bool,
    /// Aliases in one document.
    pub max_aliases: usize,
    /// Root fields in one operation.
    pub max_root_fields: usize,
    /// Bytes of the query text.
    pub max_document_bytes: usize,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 5_000,
            introspection: true,
            max_aliases: 30,
            max_root_fields: 10,
            max_document_bytes: 32 * 1024,
        }
    }
}

pub fn build_schema(app: Arc<Application>, limits: &SchemaLimits) -> TesseraSchema {
    // Introspection stays available to the engine: whether a request may use it is
    // decided per request (the setting, or the caller's `schema:read`).
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(app)
        .extension(access::AccessControl)
        .extension(document_depth::DepthLimit::new(limits.max_depth))
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The schema without extensions, so that no hook wraps each field's resolution: only
/// for HTTP operations whose every field [`access_plan`] found allowed for the caller,
/// whose depth the stage before measured and whose complexity the server's limit
/// bounds as tightly as the tenant's plan (see `run`). Everything else, subscriptions
/// included, runs on [`build_schema`]'s.
pub fn build_unguarded_schema(app: Arc<Application>, limits: &SchemaLimits) -> TesseraSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(app)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// [`build_unguarded_schema`]'s schema without the validation rules (the complexity
/// limit still holds): only for a document the engine has already validated in full
/// and run, and whose validation does not depend on the request (it declares no
/// variables; see `http::graphql::documents`).
pub fn build_validated_schema(app: Arc<Application>, limits: &SchemaLimits) -> TesseraSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(app)
        .limit_complexity(limits.max_complexity)
        .validation_mode(async_graphql::ValidationMode::Fast)
        .finish()
}

/// The SDL of the schema, as written to `schema.graphql`.
pub fn schema_sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}
