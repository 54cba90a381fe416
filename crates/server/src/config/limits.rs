//! Limits: rate limits, the shape a GraphQL document may have, persisted-query bounds
//! and WebSocket bounds. Every one is checked at start against a range, so a typo
//! cannot turn a limit off.

use clap::Args;
use tessera_api::graphql::SchemaLimits;

use super::ConfigError;
use super::values::within;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitsSection {
    /// Turn every rate limit off (they are on by default).
    #[arg(long, env = "RATE_LIMITS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limits_enabled: bool,

    /// Requests per minute for one user or API key.
    #[arg(long, env = "RATE_LIMIT_PRINCIPAL_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_principal_per_minute: u32,

    /// Requests per minute from one address without a credential.
    #[arg(long, env = "RATE_LIMIT_ANONYMOUS_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_anonymous_per_minute: u32,

    /// Log-in, sign-up and password-reset requests per minute from one address.
    #[arg(long, env = "RATE_LIMIT_AUTHENTICATION_PER_MINUTE", default_value_t = 10)]
    pub rate_limit_authentication_per_minute: u32,

    /// Deepest selection nesting a query may have.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12)]
    pub max_query_depth: usize,

    /// Highest query complexity (each field 1; a page costs its size times its items).
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 5000)]
    pub max_query_complexity: usize,

    /// Aliases one document may use.
    #[arg(long, env = "MAX_QUERY_ALIASES", default_value_t = 30)]
    pub max_query_aliases: usize,

    /// Root fields one operation may select.
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 10)]
    pub max_root_fields: usize,

    /// Bytes of query text one request may send.
    #[arg(long, env = "MAX_DOCUMENT_BYTES", default_value_t = 32768)]
    pub max_document_bytes: usize,

    /// Operations one batched (JSON array) request may hold; 0 refuses batches. Each
    /// operation meets every limit on its own and spends from the rate limits.
    #[arg(long, env = "MAX_BATCH_OPERATIONS", default_value_t = 0)]
    pub max_batch_operations: usize,

    /// How long a relation's loader collects keys before it reads them all at once
    /// (milliseconds, at most 100). Longer batches more under load, at that latency.
    #[arg(long, env = "LOADER_DELAY_MS", default_value_t = 1)]
    pub loader_delay_ms: u64,

    /// New persisted documents one tenant (or one client address without a
    /// credential) may register per day; past it documents are not stored.
    #[arg(long, env = "PERSISTED_QUERY_REGISTRATIONS_PER_DAY", default_value_t = 500)]
    pub persisted_query_registrations_per_day: u32,

    /// Bytes of persisted documents kept in process (without Redis).
    #[arg(long, env = "PERSISTED_QUERY_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub persisted_query_cache_bytes: u64,

    /// About how many bytes of parsed documents are kept, so that a document sent again
    /// is neither parsed nor measured again; 0 keeps none.
    #[arg(long, env = "DOCUMENT_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub document_cache_bytes: u64,

    /// Seconds a WebSocket has to complete `connection_init` before it is closed.
    #[arg(long, env = "WS_INIT_TIMEOUT_SECONDS", default_value_t = 5)]
    pub ws_init_timeout_seconds: u64,

    /// Largest WebSocket message (and frame) a client may send, in bytes.
    #[arg(long, env = "WS_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub ws_max_message_bytes: usize,

    /// Open WebSocket connections per person or API key, per server process.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_PRINCIPAL", default_value_t = 8)]
    pub ws_max_connections_per_principal: usize,

    /// Open WebSocket connections per tenant, per server process.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_TENANT", default_value_t = 200)]
    pub ws_max_connections_per_tenant: usize,

    /// Subscriptions one WebSocket connection runs at once.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 16)]
    pub ws_max_subscriptions_per_connection: usize,

    /// Count every signed-in request per tenant, principal and day (usage reports and
    /// the monthly API-call quota need it; on by default).
    #[arg(long, env = "METERING_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub metering_enabled: bool,

    /// Seconds between flushes of the usage counts to the database: what a crash can
    /// lose, and how late another replica's calls reach the monthly quota.
    #[arg(long, env = "METERING_FLUSH_SECONDS", default_value_t = 5)]
    pub metering_flush_seconds: u64,

    /// Tenants `/metrics` names in its per-tenant series (the busiest of the last
    /// metering window; the rest are summed as `other`).
    #[arg(long, env = "METRICS_TOP_TENANTS", default_value_t = 20)]
    pub metrics_top_tenants: usize,
}

/// The most requests per minute any rate limit may allow (about 167,000 a second).
const MAX_PER_MINUTE: u32 = 10_000_000;

impl LimitsSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (variable, per_minute) in [
            ("RATE_LIMIT_PRINCIPAL_PER_MINUTE", self.rate_limit_principal_per_minute),
            ("RATE_LIMIT_ANONYMOUS_PER_MINUTE", self.rate_limit_anonymous_per_minute),
            (
                "RATE_LIMIT_AUTHENTICATION_PER_MINUTE",
                self.rate_limit_authentication_per_minute,
            ),
        ] {
            within(variable, per_minute, 1..=MAX_PER_MINUTE)?;
        }
        within("MAX_QUERY_DEPTH", self.max_query_depth, 1..=100)?;
        within("MAX_QUERY_COMPLEXITY", self.max_query_complexity, 1..=1_000_000)?;
        within("MAX_QUERY_ALIASES", self.max_query_aliases, 0..=1_000)?;
        within("MAX_ROOT_FIELDS", self.max_root_fields, 1..=100)?;
        // A document must fit in a request body (1 MiB).
        within("MAX_DOCUMENT_BYTES", self.max_document_bytes, 64..=1024 * 1024)?;
        within("MAX_BATCH_OPERATIONS", self.max_batch_operations, 0..=100)?;
        within("LOADER_DELAY_MS", self.loader_delay_ms, 0..=100)?;
        within(
            "PERSISTED_QUERY_REGISTRATIONS_PER_DAY",
            self.persisted_query_registrations_per_day,
            1..=MAX_PER_MINUTE,
        )?;
        within(
            "PERSISTED_QUERY_CACHE_BYTES",
            self.persisted_query_cache_bytes,
            64 * 1024..=64 * 1024 * 1024 * 1024,
        )?;
        within(
            "DOCUMENT_CACHE_BYTES",
            self.document_cache_bytes,
            0..=4 * 1024 * 1024 * 1024,
        )?;
        within("WS_INIT_TIMEOUT_SECONDS", self.ws_init_timeout_seconds, 1..=60)?;
        within("METERING_FLUSH_SECONDS", self.metering_flush_seconds, 1..=300)?;
        within("METRICS_TOP_TENANTS", self.metrics_top_tenants, 0..=1_000)?;
        within("WS_MAX_MESSAGE_BYTES", self.ws_max_message_bytes, 1024..=1024 * 1024)?;
        within(
            "WS_MAX_CONNECTIONS_PER_PRINCIPAL",
            self.ws_max_connections_per_principal,
            1..=10_000,
        )?;
        within(
            "WS_MAX_CONNECTIONS_PER_TENANT",
            self.ws_max_connections_per_tenant,
            1..=1_000_000,
        )?;
        within(
            "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
            self.ws_max_subscriptions_per_connection,
            1..=1_000,
        )
    }

    pub fn rate_limits(&self) -> tessera_application::rate_limits::RateLimitSettings {
        use tessera_application::rate_limits::{Quota, RateLimitSettings};
        RateLimitSettings {
            enabled: self.rate_limits_enabled,
            principal: Quota::per_minute(self.rate_limit_principal_per_minute),
            anonymous: Quota::per_minute(self.rate_limit_anonymous_per_minute),
            authentication: Quota::per_minute(self.rate_limit_authentication_per_minute),
        }
    }

    pub fn schema(&self, introspection: bool) -> SchemaLimits {
        SchemaLimits {
            introspection,
            max_depth: self.max_query_depth,
            max_complexity: self.max_query_complexity,
            max_aliases: self.max_query_aliases,
            max_root_fields: self.max_root_fields,
            max_document_bytes: self.max_document_bytes,
        }
    }

    pub fn metering(&self) -> tessera_application::usage::MeteringSettings {
        tessera_application::usage::MeteringSettings {
            enabled: self.metering_enabled,
            flush_interval: std::time::Duration::from_secs(self.metering_flush_seconds),
            top_tenants: self.metrics_top_tenants,
        }
    }

    pub fn loader_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.loader_delay_ms)
    }

    pub fn persisted_queries(&self) -> tessera_application::persisted::PersistedQuerySettings {
        tessera_application::persisted::PersistedQuerySettings {
            registrations_per_day: self.persisted_query_registrations_per_day,
        }
    }

    pub fn websocket(&self) -> tessera_api::http::WebSocketLimits {
        tessera_api::http::WebSocketLimits {
            init_timeout: std::time::Duration::from_secs(self.ws_init_timeout_seconds),
            max_message_bytes: self.ws_max_message_bytes,
            max_connections_per_principal: self.ws_max_connections_per_principal,
            max_connections_per_tenant: self.ws_max_connections_per_tenant,
            max_subscriptions_per_connection: self.ws_max_subscriptions_per_connection,
        }
    }
}
