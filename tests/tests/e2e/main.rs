//! End-to-end and adapter tests, in one binary to keep linking cheap. Every test gets
//! its own database; the `*_postgres` variants need `TEST_DATABASE_URL`.

mod access_rules;
mod api_key_authority;
mod api_keys;
mod architecture;
mod audit;
mod concurrent_writes;
mod custom_domains;
mod database_faults;
mod faults;
mod hostile_load;
mod http_protocol;
mod invitations;
mod isolation;
mod list_contract;
mod metrics;
mod migrations;
mod onboarding;
mod persisted_queries;
mod plans;
mod platform;
mod postgres_rls;
mod query_cost;
mod rate_limits;
mod rbac;
mod repository_contract;
mod secrets_in_logs;
mod seed_and_lifecycle;
mod session_cookies;
mod sessions;
mod sign_up_and_log_in;
mod tenancy;
mod tenant_standing;
mod webhook_delivery;
mod webhooks;
mod websocket_limits;
