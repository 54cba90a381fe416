//! Repository implementations, one module per aggregate, all on [`super::SeaTransaction`].
//! Tenant tables are reached only through [`super::scoped`].

mod api_keys;
pub mod audit;
mod billing;
mod custom_domains;
mod exports;
mod invitations;
mod memberships;
mod mfa;
mod onboarding;
mod outbox;
mod roles;
mod scim;
mod sessions;
mod sso;
mod tenants;
mod usage;
mod usage_activity;
mod user_tokens;
mod users;
mod webhooks;
mod workspace_reads;
mod workspaces;
