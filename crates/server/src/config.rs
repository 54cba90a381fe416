//! Configuration: one typed struct, from environment variables with matching flags,
//! validated once at start.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

/// The development-only signing key. Production refuses to start with it.
pub const DEV_JWT_SECRET: &str = "tessera-development-only-secret-do-not-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Eddsa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrustedDocumentsRequired {
    Off,
    ApiKeys,
    Everyone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// development or production.
    #[arg(
        long = "env",
        env = "TESSERA_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub environment: Environment,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080", global = true)]
    pub bind_addr: SocketAddr,

    /// Database used at run time (SQLite file by default, created on start).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://tessera.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Database URL used to apply migrations (the schema owner); defaults to DATABASE_URL.
    #[arg(long, env = "DATABASE_MIGRATION_URL", global = true)]
    pub database_migration_url: Option<String>,

    /// Postgres role every run-time connection switches to (owns nothing, cannot bypass RLS).
    #[arg(long, env = "DATABASE_APP_ROLE", default_value = tessera_migration::APP_ROLE, global = true)]
    pub database_app_role: String,

    /// Upper bound on pooled database connections (SQLite always uses one).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection before it fails (also how
    /// fast requests fail while the database is down).
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 5, global = true)]
    pub database_acquire_timeout_seconds: u64,

    /// Apply pending migrations when the server starts.
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,

    /// HS256 signing key for access tokens (at least 32 bytes in production).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// hs256 (JWT_SECRET), rs256 or eddsa (JWT_PRIVATE_KEY_FILE + JWT_PUBLIC_KEY_FILES).
    #[arg(long, env = "JWT_ALGORITHM", value_enum, default_value = "hs256", global = true)]
    pub jwt_algorithm: JwtAlgorithm,

    /// The `kid` of the signing key.
    #[arg(long, env = "JWT_KEY_ID", default_value = "default", global = true)]
    pub jwt_key_id: String,

    /// PEM private key that signs (rs256/eddsa).
    #[arg(long, env = "JWT_PRIVATE_KEY_FILE", global = true)]
    pub jwt_private_key_file: Option<std::path::PathBuf>,

    /// Public keys that verify, as `kid=path,kid=path` (rs256/eddsa); must include the
    /// signing key's. Keep an old key listed while its tokens may still be alive.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILES", global = true)]
    pub jwt_public_key_files: Option<String>,

    /// Earlier HS256 secrets that still verify, as `kid=secret,kid=secret` (rotation).
    #[arg(long, env = "JWT_PREVIOUS_SECRETS", hide_env_values = true, global = true)]
    pub jwt_previous_secrets: Option<String>,

    #[arg(long, env = "JWT_ISSUER", default_value = "tessera", global = true)]
    pub jwt_issuer: String,

    #[arg(long, env = "JWT_AUDIENCE", default_value = "tessera-api", global = true)]
    pub jwt_audience: String,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900, global = true)]
    pub access_token_ttl_seconds: u32,

    /// Redis, shared by every replica (access cache); in-process caching without it.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// How long a member's cached permissions may live without an invalidation.
    #[arg(long, env = "ACCESS_CACHE_TTL_SECONDS", default_value_t = 30, global = true)]
    pub access_cache_ttl_seconds: u64,

    /// With `example.com`, requests to `<slug>.example.com` name that tenant (checked
    /// against the credential like the X-Tenant-* headers).
    #[arg(long, env = "BASE_DOMAIN", global = true)]
    pub base_domain: Option<String>,

    /// When set, `/metrics` wants `Authorization: Bearer <token>`. In production
    /// `/metrics` is refused on the main address unless this is set.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,

    /// Serve `/metrics` on this separate (admin) address instead of the main one.
    #[arg(long, env = "METRICS_BIND_ADDR", global = true)]
    pub metrics_bind_addr: Option<SocketAddr>,

    /// Turn every rate limit off (they are on by default).
    #[arg(long, env = "RATE_LIMITS_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub rate_limits_enabled: bool,

    /// Requests per minute for a whole tenant on the free plan.
    #[arg(long, env = "RATE_LIMIT_FREE_PER_MINUTE", default_value_t = 600, global = true)]
    pub rate_limit_free_per_minute: u32,

    /// Requests per minute for a whole tenant on the team plan.
    #[arg(long, env = "RATE_LIMIT_TEAM_PER_MINUTE", default_value_t = 3000, global = true)]
    pub rate_limit_team_per_minute: u32,

    /// Requests per minute for a whole tenant on the enterprise plan.
    #[arg(
        long,
        env = "RATE_LIMIT_ENTERPRISE_PER_MINUTE",
        default_value_t = 12000,
        global = true
    )]
    pub rate_limit_enterprise_per_minute: u32,

    /// Requests per minute for one user or API key.
    #[arg(long, env = "RATE_LIMIT_PRINCIPAL_PER_MINUTE", default_value_t = 600, global = true)]
    pub rate_limit_principal_per_minute: u32,

    /// Requests per minute from one address without a credential.
    #[arg(long, env = "RATE_LIMIT_ANONYMOUS_PER_MINUTE", default_value_t = 120, global = true)]
    pub rate_limit_anonymous_per_minute: u32,

    /// Log-in, sign-up and password-reset requests per minute from one address.
    #[arg(
        long,
        env = "RATE_LIMIT_AUTHENTICATION_PER_MINUTE",
        default_value_t = 10,
        global = true
    )]
    pub rate_limit_authentication_per_minute: u32,

    /// Outbox workers in this process (0: this replica delivers no events). Replicas
    /// share the work: each tenant's queue is taken by one worker at a time.
    #[arg(long, env = "OUTBOX_WORKERS", default_value_t = 1, global = true)]
    pub outbox_workers: u16,

    /// How often an idle outbox or webhook worker looks for work, in milliseconds.
    #[arg(long, env = "OUTBOX_POLL_MS", default_value_t = 250, global = true)]
    pub outbox_poll_ms: u64,

    /// Webhook delivery loops in this process (0: this replica sends none). They share
    /// the process's WEBHOOK_CONCURRENCY.
    #[arg(long, env = "WEBHOOK_WORKERS", default_value_t = 1, global = true)]
    pub webhook_workers: u16,

    /// Deliveries this process sends at once.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 16, global = true)]
    pub webhook_concurrency: usize,

    /// Of those, at most this many for one tenant (a slow tenant holds only these).
    #[arg(long, env = "WEBHOOK_CONCURRENCY_PER_TENANT", default_value_t = 4, global = true)]
    pub webhook_concurrency_per_tenant: usize,

    /// And at most this many to one endpoint.
    #[arg(long, env = "WEBHOOK_CONCURRENCY_PER_ENDPOINT", default_value_t = 2, global = true)]
    pub webhook_concurrency_per_endpoint: usize,

    /// Redeliveries one tenant may ask for per hour (`redeliverWebhook`).
    #[arg(long, env = "WEBHOOK_REDELIVERIES_PER_HOUR", default_value_t = 100, global = true)]
    pub webhook_redeliveries_per_hour: u32,

    /// Extra CA certificates (PEM) that webhook deliveries trust besides the built-in
    /// roots: for receivers behind a private CA. Verification is never turned off.
    #[arg(long, env = "WEBHOOK_CA_FILE", global = true)]
    pub webhook_ca_file: Option<std::path::PathBuf>,

    /// How long a webhook receiver has to answer, in seconds. A delivery in flight is
    /// reserved for twice this (plus a second); a replica that dies mid-delivery leaves
    /// it to be sent again after that.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10, global = true)]
    pub webhook_timeout_seconds: u64,

    /// Attempts per delivery before it is marked failed.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 12, global = true)]
    pub webhook_max_attempts: u32,

    /// The first retry's delay in milliseconds; each later one doubles (with jitter).
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 30_000, global = true)]
    pub webhook_retry_base_ms: u64,

    /// The longest delay between two attempts, in seconds.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_MAX_DELAY_SECONDS",
        default_value_t = 21_600,
        global = true
    )]
    pub webhook_retry_max_delay_seconds: u64,

    /// No attempt is made later than this after the event, in hours.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_AGE_HOURS", default_value_t = 72, global = true)]
    pub webhook_retry_max_age_hours: u64,

    /// Days handed-over outbox events are kept before a later hand-over deletes them.
    #[arg(long, env = "OUTBOX_RETENTION_DAYS", default_value_t = 7, global = true)]
    pub outbox_retention_days: u32,

    /// Days ended webhook deliveries (the `webhookDeliveries` log) are kept.
    #[arg(long, env = "WEBHOOK_DELIVERY_RETENTION_DAYS", default_value_t = 30, global = true)]
    pub webhook_delivery_retention_days: u32,

    /// An endpoint is disabled after this many deliveries in a row failed for good.
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER", default_value_t = 5, global = true)]
    pub webhook_disable_after: u32,

    /// Until a person finishes onboarding, tenant work answers FORBIDDEN
    /// (`ONBOARDING_INCOMPLETE`); onboarding itself and reading oneself stay open.
    #[arg(long, env = "ONBOARDING_GATE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub onboarding_gate: bool,

    /// Cookie mode for a browser app: refresh tokens in an HttpOnly, Secure, SameSite=Lax
    /// cookie, with a double-submit CSRF token (`X-CSRF-Token`) to use it.
    #[arg(long, env = "SESSION_COOKIES", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub session_cookies: bool,

    /// The SMTP relay for outgoing mail (`smtps://user:pass@smtp.example.com`,
    /// `smtp://host:587?tls=required`); without it mails are written to the log.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// The sender of outgoing mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Tessera <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Where the web app lives (`https://app.example.com`); links in mails point there.
    #[arg(long, env = "APP_URL", global = true)]
    pub app_url: Option<String>,

    /// Serve GraphiQL at /graphiql.
    #[arg(long, env = "GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub graphiql: bool,

    /// Deepest selection nesting a query may have.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, global = true)]
    pub max_query_depth: usize,

    /// Highest query complexity (each field 1; a page costs its size times its items).
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 5000, global = true)]
    pub max_query_complexity: usize,

    /// Aliases one document may use.
    #[arg(long, env = "MAX_QUERY_ALIASES", default_value_t = 30, global = true)]
    pub max_query_aliases: usize,

    /// Root fields one operation may select.
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 10, global = true)]
    pub max_root_fields: usize,

    /// Operations one batched (JSON array) request may hold; 0 refuses batches. Each
    /// operation meets every limit on its own and spends from the rate limits.
    #[arg(long, env = "MAX_BATCH_OPERATIONS", default_value_t = 0, global = true)]
    pub max_batch_operations: usize,

    /// Seconds a WebSocket has to complete `connection_init` before it is closed.
    #[arg(long, env = "WS_INIT_TIMEOUT_SECONDS", default_value_t = 5, global = true)]
    pub ws_init_timeout_seconds: u64,

    /// Largest WebSocket message (and frame) a client may send, in bytes.
    #[arg(long, env = "WS_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024, global = true)]
    pub ws_max_message_bytes: usize,

    /// Open WebSocket connections per person or API key, per server process.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_PRINCIPAL", default_value_t = 8, global = true)]
    pub ws_max_connections_per_principal: usize,

    /// Open WebSocket connections per tenant, per server process.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_TENANT", default_value_t = 200, global = true)]
    pub ws_max_connections_per_tenant: usize,

    /// Subscriptions one WebSocket connection runs at once.
    #[arg(
        long,
        env = "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 16,
        global = true
    )]
    pub ws_max_subscriptions_per_connection: usize,

    /// How long a relation's loader collects keys before it reads them all at once
    /// (milliseconds, at most 100). Longer batches more under load, at that latency.
    #[arg(long, env = "LOADER_DELAY_MS", default_value_t = 1, global = true)]
    pub loader_delay_ms: u64,

    /// Bytes of query text one request may send.
    #[arg(long, env = "MAX_DOCUMENT_BYTES", default_value_t = 32768, global = true)]
    pub max_document_bytes: usize,

    /// New persisted documents one tenant (or one client address without a
    /// credential) may register per day; past it documents are not stored.
    #[arg(
        long,
        env = "PERSISTED_QUERY_REGISTRATIONS_PER_DAY",
        default_value_t = 500,
        global = true
    )]
    pub persisted_query_registrations_per_day: u32,

    /// Bytes of persisted documents kept in process (without Redis).
    #[arg(long, env = "PERSISTED_QUERY_CACHE_BYTES", default_value_t = 64 * 1024 * 1024, global = true)]
    pub persisted_query_cache_bytes: u64,

    /// The trusted-documents manifest (hash → document), loaded at start.
    #[arg(
        long,
        env = "TRUSTED_DOCUMENTS_FILE",
        default_value = "trusted-documents.json",
        global = true
    )]
    pub trusted_documents_file: std::path::PathBuf,

    /// Who may run trusted documents only: off, api-keys or everyone.
    #[arg(
        long,
        env = "TRUSTED_DOCUMENTS_REQUIRED",
        value_enum,
        default_value = "off",
        global = true
    )]
    pub trusted_documents_required: TrustedDocumentsRequired,

    /// Allow schema introspection (on by default in development only).
    #[arg(long, env = "INTROSPECTION", action = clap::ArgAction::Set, global = true)]
    pub introspection: Option<bool>,

    /// pretty or json (json by default in production).
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// Origins a browser may call the API from (`https://app.example.com,…`); none
    /// when unset (same origin only).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", global = true)]
    pub cors_allowed_origins: Option<String>,

    /// Addresses of the proxies in front of the server (comma-separated); their
    /// `X-Forwarded-For` names the client. Without it the header is ignored.
    #[arg(long, env = "TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,

    /// Send `Strict-Transport-Security` with this max-age (serve over HTTPS only).
    #[arg(long, env = "HSTS_MAX_AGE_SECONDS", global = true)]
    pub hsts_max_age_seconds: Option<u64>,

    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 30, global = true)]
    pub request_timeout_seconds: u64,

    /// Days of audit events kept in the database; `tessera audit archive` moves older
    /// ones to a JSON-lines file (run it daily, e.g. the Kubernetes CronJob).
    #[arg(long, env = "AUDIT_RETENTION_DAYS", default_value_t = 365, global = true)]
    pub audit_retention_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("JWT_SECRET must be set in production (at least 32 bytes, e.g. `openssl rand -hex 32`)")]
    MissingJwtSecret,
    #[error("JWT_SECRET must be at least 32 bytes long")]
    WeakJwtSecret,
    #[error("JWT_SECRET must not be the development default in production")]
    DevelopmentJwtSecret,
    #[error("JWT_PRIVATE_KEY_FILE is required for rs256 and eddsa")]
    JwtPrivateKeyMissing,
    #[error("cannot read JWT key file {0}: {1}")]
    JwtKeyFile(String, String),
    #[error("ACCESS_TOKEN_TTL_SECONDS must be between 60 and 86400")]
    AccessTokenTtl,
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")]
    DatabaseUrl,
    #[error("REDIS_URL must start with redis:// or rediss://")]
    RedisUrl,
    #[error("ACCESS_CACHE_TTL_SECONDS must be between 1 and 3600")]
    AccessCacheTtl,
}

impl Config {
    /// JSON in production unless asked otherwise; pretty in development.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(if self.is_production() {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        })
    }

    /// The trusted proxy addresses; an entry that is not an address is an error.
    pub fn trusted_proxy_addresses(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse()
                    .map_err(|_| anyhow::anyhow!("TRUSTED_PROXIES: `{entry}` is not an IP address"))
            })
            .collect()
    }

    /// The allowed CORS origins, trimmed, without empties.
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }

    pub fn rate_limits(&self) -> tessera_application::rate_limits::RateLimitSettings {
        use tessera_application::rate_limits::{Quota, RateLimitSettings};
        RateLimitSettings {
            enabled: self.rate_limits_enabled,
            free: Quota::per_minute(self.rate_limit_free_per_minute.max(1)),
            team: Quota::per_minute(self.rate_limit_team_per_minute.max(1)),
            enterprise: Quota::per_minute(self.rate_limit_enterprise_per_minute.max(1)),
            principal: Quota::per_minute(self.rate_limit_principal_per_minute.max(1)),
            anonymous: Quota::per_minute(self.rate_limit_anonymous_per_minute.max(1)),
            authentication: Quota::per_minute(self.rate_limit_authentication_per_minute.max(1)),
        }
    }

    /// How long a webhook receiver has to answer: the sender's timeout, and the base
    /// of a claimed delivery's reservation (one number, so the two cannot drift).
    pub fn webhook_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.webhook_timeout_seconds.clamp(1, 300))
    }

    /// Development lets webhooks reach `http` and local addresses.
    pub fn webhooks_may_reach_local_addresses(&self) -> bool {
        !self.is_production()
    }

    pub fn webhooks(&self) -> tessera_application::webhooks::WebhookSettings {
        use chrono::Duration;
        let timeout = Duration::from_std(self.webhook_timeout()).unwrap_or(Duration::seconds(10));
        tessera_application::webhooks::WebhookSettings {
            allow_local_urls: self.webhooks_may_reach_local_addresses(),
            retry: tessera_domain::RetryPolicy {
                base: Duration::milliseconds(self.webhook_retry_base_ms.clamp(1, 86_400_000) as i64),
                max_delay: Duration::seconds(self.webhook_retry_max_delay_seconds.clamp(1, 7 * 86_400) as i64),
                max_attempts: self.webhook_max_attempts.max(1),
                max_age: Duration::hours(self.webhook_retry_max_age_hours.clamp(1, 24 * 30) as i64),
            },
            disable_after_failed_deliveries: self.webhook_disable_after.max(1),
            lease: timeout * 2 + Duration::seconds(1),
            outbox_retention: Duration::days(i64::from(self.outbox_retention_days.clamp(1, 3650))),
            delivery_retention: Duration::days(i64::from(self.webhook_delivery_retention_days.clamp(1, 3650))),
            concurrency: tessera_application::webhooks::DeliveryConcurrency {
                total: self.webhook_concurrency.clamp(1, 1024),
                per_tenant: self.webhook_concurrency_per_tenant.max(1),
                per_endpoint: self.webhook_concurrency_per_endpoint.max(1),
            },
            redeliveries_per_hour: self.webhook_redeliveries_per_hour.max(1),
            ..tessera_application::webhooks::WebhookSettings::default()
        }
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// The key that signs tokens: the configured one, or in development the fixed default.
    pub fn jwt_secret(&self) -> Result<String, ConfigError> {
        if self.jwt_algorithm != JwtAlgorithm::Hs256 {
            // Asymmetric keys sign; the HMAC secret is not used.
            return Ok(self.jwt_secret.clone().unwrap_or_default());
        }
        match (&self.jwt_secret, self.environment) {
            (Some(secret), Environment::Production) if secret == DEV_JWT_SECRET => {
                Err(ConfigError::DevelopmentJwtSecret)
            }
            (Some(secret), _) if secret.trim().is_empty() && self.is_production() => Err(ConfigError::MissingJwtSecret),
            (Some(secret), _) if secret.len() < 32 && !secret.trim().is_empty() => Err(ConfigError::WeakJwtSecret),
            (Some(secret), _) if !secret.trim().is_empty() => Ok(secret.clone()),
            (_, Environment::Production) => Err(ConfigError::MissingJwtSecret),
            (_, Environment::Development) => Ok(DEV_JWT_SECRET.to_owned()),
        }
    }

    /// Everything `serve` needs, checked before anything starts.
    pub fn validate_for_serving(&self) -> Result<(), ConfigError> {
        self.jwt_secret()?;
        if !(60..=86_400).contains(&self.access_token_ttl_seconds) {
            return Err(ConfigError::AccessTokenTtl);
        }
        if !(1..=3_600).contains(&self.access_cache_ttl_seconds) {
            return Err(ConfigError::AccessCacheTtl);
        }
        if self
            .redis_url
            .as_deref()
            .is_some_and(|url| !url.starts_with("redis://") && !url.starts_with("rediss://"))
        {
            return Err(ConfigError::RedisUrl);
        }
        self.validate_database()
    }

    pub fn validate_database(&self) -> Result<(), ConfigError> {
        let ok = |url: &str| {
            url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:")
        };
        if !ok(&self.database_url) || self.database_migration_url.as_deref().is_some_and(|u| !ok(u)) {
            return Err(ConfigError::DatabaseUrl);
        }
        Ok(())
    }

    pub fn migration_url(&self) -> &str {
        self.database_migration_url.as_deref().unwrap_or(&self.database_url)
    }

    /// Who may read `/metrics` on the main address: with `METRICS_BIND_ADDR` nobody
    /// (it is served there); else the holders of `METRICS_TOKEN`; without one, anyone
    /// in development and nobody in production.
    pub fn metrics_on_main_address(&self) -> tessera_api::http::prometheus::MetricsAccess {
        use tessera_api::http::prometheus::MetricsAccess;
        match (self.metrics_bind_addr, self.metrics_token()) {
            (Some(_), _) => MetricsAccess::Refused,
            (None, Some(token)) => MetricsAccess::Bearer(token),
            (None, None) if self.is_production() => MetricsAccess::Refused,
            (None, None) => MetricsAccess::Open,
        }
    }

    /// Who may read `/metrics` on `METRICS_BIND_ADDR`: the token's holders if one is
    /// set, else anyone who can reach that address.
    pub fn metrics_on_admin_address(&self) -> tessera_api::http::prometheus::MetricsAccess {
        use tessera_api::http::prometheus::MetricsAccess;
        self.metrics_token().map_or(MetricsAccess::Open, MetricsAccess::Bearer)
    }

    fn metrics_token(&self) -> Option<String> {
        self.metrics_token.clone().filter(|t| !t.trim().is_empty())
    }

    /// The WebSocket bounds, each kept within a sane range.
    pub fn websocket_limits(&self) -> tessera_api::http::WebSocketLimits {
        tessera_api::http::WebSocketLimits {
            init_timeout: std::time::Duration::from_secs(self.ws_init_timeout_seconds.clamp(1, 60)),
            max_message_bytes: self.ws_max_message_bytes.clamp(1024, 1024 * 1024),
            max_connections_per_principal: self.ws_max_connections_per_principal.max(1),
            max_connections_per_tenant: self.ws_max_connections_per_tenant.max(1),
            max_subscriptions_per_connection: self.ws_max_subscriptions_per_connection.max(1),
        }
    }

    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or(!self.is_production())
    }

    /// The token keys this configuration describes (files are read here).
    pub fn jwt_keys(&self) -> Result<tessera_infrastructure::JwtConfig, ConfigError> {
        use tessera_infrastructure::auth::jwt::{SigningKey, VerifyingKey};
        let pairs = |raw: &Option<String>| -> Vec<(String, String)> {
            raw.as_deref()
                .unwrap_or_default()
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(kid, value)| (kid.trim().to_owned(), value.trim().to_owned()))
                .filter(|(kid, value)| !kid.is_empty() && !value.is_empty())
                .collect()
        };
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| ConfigError::JwtKeyFile(path.display().to_string(), e.to_string()))
        };
        let (signing, verifying) = match self.jwt_algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = self.jwt_secret()?.into_bytes();
                let mut verifying = vec![(self.jwt_key_id.clone(), VerifyingKey::Hs256 { secret: secret.clone() })];
                for (kid, old) in pairs(&self.jwt_previous_secrets) {
                    verifying.push((
                        kid,
                        VerifyingKey::Hs256 {
                            secret: old.into_bytes(),
                        },
                    ));
                }
                (SigningKey::Hs256 { secret }, verifying)
            }
            algorithm => {
                let path = self
                    .jwt_private_key_file
                    .as_ref()
                    .ok_or(ConfigError::JwtPrivateKeyMissing)?;
                let private_pem = read(path)?;
                let mut verifying = Vec::new();
                for (kid, file) in pairs(&self.jwt_public_key_files) {
                    let public_pem = read(std::path::Path::new(&file))?;
                    verifying.push((
                        kid,
                        if algorithm == JwtAlgorithm::Rs256 {
                            VerifyingKey::Rs256 { public_pem }
                        } else {
                            VerifyingKey::EdDsa { public_pem }
                        },
                    ));
                }
                let signing = if algorithm == JwtAlgorithm::Rs256 {
                    SigningKey::Rs256 { private_pem }
                } else {
                    SigningKey::EdDsa { private_pem }
                };
                (signing, verifying)
            }
        };
        Ok(tessera_infrastructure::JwtConfig {
            signing_kid: self.jwt_key_id.clone(),
            signing,
            verifying,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        })
    }

    /// A configuration for tests and embedding: development mode, the given database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            environment: Environment::Development,
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            database_migration_url: None,
            database_app_role: tessera_migration::APP_ROLE.to_owned(),
            database_max_connections: 5,
            database_acquire_timeout_seconds: 5,
            migrate_on_start: true,
            jwt_secret: None,
            jwt_algorithm: JwtAlgorithm::Hs256,
            jwt_key_id: "default".into(),
            jwt_private_key_file: None,
            jwt_public_key_files: None,
            jwt_previous_secrets: None,
            jwt_issuer: "tessera".into(),
            jwt_audience: "tessera-api".into(),
            access_token_ttl_seconds: 900,
            redis_url: None,
            access_cache_ttl_seconds: 30,
            base_domain: None,
            session_cookies: false,
            onboarding_gate: true,
            metrics_token: None,
            metrics_bind_addr: None,
            rate_limits_enabled: true,
            rate_limit_free_per_minute: 600,
            rate_limit_team_per_minute: 3000,
            rate_limit_enterprise_per_minute: 12000,
            rate_limit_principal_per_minute: 600,
            rate_limit_anonymous_per_minute: 120,
            rate_limit_authentication_per_minute: 10,
            smtp_url: None,
            mail_from: "Tessera <no-reply@localhost>".into(),
            app_url: None,
            graphiql: true,
            max_query_depth: 12,
            max_query_complexity: 5000,
            max_query_aliases: 30,
            max_root_fields: 10,
            max_document_bytes: 32768,
            max_batch_operations: 0,
            loader_delay_ms: 1,
            ws_init_timeout_seconds: 5,
            ws_max_message_bytes: 16 * 1024,
            ws_max_connections_per_principal: 8,
            ws_max_connections_per_tenant: 200,
            ws_max_subscriptions_per_connection: 16,
            persisted_query_registrations_per_day: 500,
            persisted_query_cache_bytes: 64 * 1024 * 1024,
            trusted_documents_file: "trusted-documents.json".into(),
            trusted_documents_required: TrustedDocumentsRequired::Off,
            introspection: None,
            log_format: None,
            cors_allowed_origins: None,
            trusted_proxies: None,
            hsts_max_age_seconds: None,
            request_timeout_seconds: 30,
            audit_retention_days: 365,
            outbox_workers: 1,
            outbox_poll_ms: 250,
            webhook_workers: 1,
            webhook_timeout_seconds: 10,
            webhook_max_attempts: 12,
            webhook_retry_base_ms: 30_000,
            webhook_retry_max_delay_seconds: 21_600,
            webhook_retry_max_age_hours: 72,
            webhook_disable_after: 5,
            webhook_concurrency: 16,
            webhook_concurrency_per_tenant: 4,
            webhook_concurrency_per_endpoint: 2,
            webhook_redeliveries_per_hour: 100,
            webhook_ca_file: None,
            outbox_retention_days: 7,
            webhook_delivery_retention_days: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onboarding_gates_tenant_work_unless_turned_off() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let defaults = Cli::try_parse_from(["tessera"]).expect("parses").config;
        assert!(defaults.onboarding_gate || std::env::var("ONBOARDING_GATE").is_ok());
        let off = Cli::try_parse_from(["tessera", "--onboarding-gate", "false"]).expect("parses");
        assert!(!off.config.onboarding_gate);
        assert!(Config::for_database("sqlite::memory:").onboarding_gate);
    }

    #[test]
    fn production_refuses_a_missing_default_or_weak_secret() {
        let mut config = Config::for_database("sqlite::memory:");
        config.environment = Environment::Production;
        assert!(matches!(config.jwt_secret(), Err(ConfigError::MissingJwtSecret)));
        config.jwt_secret = Some(DEV_JWT_SECRET.into());
        assert!(matches!(config.jwt_secret(), Err(ConfigError::DevelopmentJwtSecret)));
        config.jwt_secret = Some("short".into());
        assert!(matches!(config.jwt_secret(), Err(ConfigError::WeakJwtSecret)));
        config.jwt_secret = Some("x".repeat(32));
        assert_eq!(config.jwt_secret().ok(), Some("x".repeat(32)));
    }

    #[test]
    fn development_falls_back_to_the_development_secret() {
        let config = Config::for_database("sqlite::memory:");
        assert_eq!(config.jwt_secret().ok().as_deref(), Some(DEV_JWT_SECRET));
        assert!(config.introspection_enabled());
    }

    #[test]
    fn eddsa_keys_load_from_files_and_sign_verifiable_tokens() {
        use tessera_application::ports::{AccessClaims, TokenIssuer};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../infrastructure/src/auth/testdata");
        let mut config = Config::for_database("sqlite::memory:");
        config.jwt_algorithm = JwtAlgorithm::Eddsa;
        config.jwt_key_id = "b".into();
        config.jwt_private_key_file = Some(format!("{dir}/ed25519-b.pem").into());
        config.jwt_public_key_files = Some(format!("a={dir}/ed25519-a.pub.pem, b={dir}/ed25519-b.pub.pem"));
        let issuer =
            tessera_infrastructure::JwtTokenIssuer::new(config.jwt_keys().expect("keys load")).expect("valid keys");
        let now = chrono::Utc::now();
        let claims = AccessClaims {
            user_id: tessera_domain::UserId::from_uuid(uuid_now()),
            tenant_id: tessera_domain::TenantId::from_uuid(uuid_now()),
            session_id: tessera_domain::SessionId::from_uuid(uuid_now()),
            issued_at: now,
            expires_at: now + chrono::Duration::minutes(5),
        };
        assert!(issuer.verify(&issuer.issue(&claims).expect("sign")).is_ok());

        config.jwt_private_key_file = Some("/nonexistent/key.pem".into());
        assert!(matches!(config.jwt_keys(), Err(ConfigError::JwtKeyFile(..))));
        config.jwt_private_key_file = None;
        assert!(matches!(config.jwt_keys(), Err(ConfigError::JwtPrivateKeyMissing)));
    }

    fn uuid_now() -> sea_orm::prelude::Uuid {
        sea_orm::prelude::Uuid::now_v7()
    }

    #[test]
    fn unknown_database_schemes_are_refused() {
        let config = Config::for_database("mysql://localhost/db");
        assert!(matches!(config.validate_database(), Err(ConfigError::DatabaseUrl)));
    }
}

#[cfg(test)]
mod documentation {
    use clap::{Args, Command};

    /// Every setting is documented for operators: in the README's table and in the
    /// example environment file.
    #[test]
    fn every_setting_is_in_the_readme_and_the_example_environment() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let example = std::fs::read_to_string(root.join("deploy/tessera.env.example")).expect("the example");
        let command = super::Config::augment_args(Command::new("tessera"));
        let mut missing = Vec::new();
        for argument in command.get_arguments() {
            let Some(name) = argument.get_env().and_then(|name| name.to_str()) else {
                continue;
            };
            if !readme.contains(&format!("`{name}`")) {
                missing.push(format!("{name} (README)"));
            }
            if !example.contains(&format!("#{name}=")) && !example.contains(&format!("\n{name}=")) {
                missing.push(format!("{name} (deploy/tessera.env.example)"));
            }
        }
        assert!(missing.is_empty(), "undocumented settings: {missing:?}");
    }
}
