//! Configuration: sections (database, Redis, sign-in, HTTP, trusted documents, limits,
//! events and webhooks, mail) flattened into one command line, each read from
//! environment variables with matching flags. Each default is written once, on its
//! flag; each section checks its own values at start and refuses one out of range
//! with a message that names the variable. Secrets and connection URLs are types
//! that never print their secret part.

mod auth;
mod billing;
mod database;
mod documents;
mod http;
mod limits;
mod mail;
mod offboarding;
mod plans;
mod redis;
mod values;
mod webhooks;

use clap::{Args, FromArgMatches, ValueEnum};

pub use auth::{AuthSection, DEV_JWT_SECRET, DEV_SECRETS_KEY, JwtAlgorithm};
pub use billing::BillingSection;
pub use database::DatabaseSection;
pub use documents::{TrustedDocumentsRequired, TrustedDocumentsSection};
pub use http::HttpSection;
pub use limits::LimitsSection;
pub use mail::MailSection;
pub use offboarding::OffboardingSection;
pub use plans::PlansSection;
pub use redis::RedisSection;
pub use values::{ConnectionUrl, Secret};
pub use webhooks::WebhookSection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// What every command uses: the environment it runs in and how it logs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Runtime")]
pub struct RuntimeSection {
    /// development or production.
    #[arg(long = "env", env = "TESSERA_ENV", value_enum, default_value = "development")]
    pub environment: Environment,

    /// pretty or json (json by default in production).
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

impl RuntimeSection {
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// JSON in production unless asked otherwise; pretty in development.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(if self.is_production() {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        })
    }
}

/// Everything `tessera serve` reads.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub runtime: RuntimeSection,
    #[command(flatten)]
    pub database: DatabaseSection,
    #[command(flatten)]
    pub redis: RedisSection,
    #[command(flatten)]
    pub auth: AuthSection,
    #[command(flatten)]
    pub http: HttpSection,
    #[command(flatten)]
    pub trusted_documents: TrustedDocumentsSection,
    #[command(flatten)]
    pub limits: LimitsSection,
    #[command(flatten)]
    pub plans: PlansSection,
    #[command(flatten)]
    pub billing: BillingSection,
    #[command(flatten)]
    pub webhooks: WebhookSection,
    #[command(flatten)]
    pub mail: MailSection,
    #[command(flatten)]
    pub offboarding: OffboardingSection,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("JWT_SECRET must be set in production (at least 32 bytes, e.g. `openssl rand -hex 32`)")]
    MissingJwtSecret,
    #[error("JWT_SECRET must be at least 32 bytes long")]
    WeakJwtSecret,
    #[error("JWT_SECRET must not be the development default in production")]
    DevelopmentJwtSecret,
    #[error("SECRETS_KEY must be set in production (32 random bytes as hex: `openssl rand -hex 32`)")]
    MissingSecretsKey,
    #[error("SECRETS_KEY must not be the development default in production")]
    DevelopmentSecretsKey,
    #[error("SECRETS_KEY and each of SECRETS_PREVIOUS_KEYS must be 64 hexadecimal digits (32 bytes)")]
    SecretsKey,
    #[error("TOTP_ISSUER must be 1 to 64 characters without `:`")]
    TotpIssuer,
    #[error("PUBLIC_URL must be an http:// or https:// URL without query or fragment")]
    PublicUrl,
    #[error("SSO_RETURN_URL must be an http:// or https:// URL without fragment")]
    SsoReturnUrl,

    #[error("JWT_PRIVATE_KEY_FILE is required for rs256 and eddsa")]
    JwtPrivateKeyMissing,
    #[error("cannot read JWT key file {0}: {1}")]
    JwtKeyFile(String, String),
    #[error("cannot publish the JWT keys: {0}")]
    JwtKeyUnusable(String),
    #[error("cannot read WEBHOOK_CA_FILE {0}: {1}")]
    WebhookCaFile(String, String),
    #[error("{0} must start with postgres://, postgresql:// or sqlite:")]
    DatabaseUrl(&'static str),
    #[error("{0}")]
    Billing(String),
    #[error("plan catalogue: {0}")]
    Plans(String),
    #[error("REDIS_URL must start with redis:// or rediss://")]
    RedisUrl,
    #[error("TRUSTED_PROXIES: `{0}` is not an IP address or network")]
    TrustedProxy(String),
    #[error("{variable} is {value}; it must be between {min} and {max}")]
    OutOfRange {
        variable: &'static str,
        value: String,
        min: String,
        max: String,
    },
}

impl Config {
    /// Every setting at its default, as `tessera serve` would read it from an empty
    /// environment: the defaults are those written on the flags, nowhere else.
    pub fn defaults() -> Self {
        let command = Self::augment_args(clap::Command::new("defaults")).mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["defaults"])
            .expect("every setting has a default or is optional");
        Self::from_arg_matches(&matches).expect("the matches come from this very command")
    }

    /// A configuration for tests and embedding: the defaults, the given database, a
    /// free local port and a small pool.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Self::defaults();
        config.database.url = ConnectionUrl::from(database_url.into());
        config.database.max_connections = 5;
        config.http.bind_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }

    /// Everything `serve` needs, checked before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.redis.validate()?;
        self.auth.validate(self.runtime.environment)?;
        self.http.validate()?;
        self.limits.validate()?;
        self.billing.validate(&self.plans.catalogue()?)?;
        self.offboarding.validate()?;
        self.webhooks.validate()
    }

    pub fn is_production(&self) -> bool {
        self.runtime.is_production()
    }

    /// The key that signs tokens (see [`AuthSection::jwt_secret`]).
    pub fn jwt_secret(&self) -> Result<String, ConfigError> {
        self.auth.jwt_secret(self.runtime.environment)
    }

    /// The token keys (files are read here).
    pub fn jwt_keys(&self) -> Result<tessera_infrastructure::JwtConfig, ConfigError> {
        self.auth.jwt_keys(self.runtime.environment)
    }

    /// The verifying public keys as a JWK Set (`/.well-known/jwks.json`); empty with
    /// HS256.
    pub fn published_keys(&self) -> Result<std::sync::Arc<str>, ConfigError> {
        let set = self
            .jwt_keys()?
            .published_keys()
            .map_err(|e| ConfigError::JwtKeyUnusable(e.to_string()))?;
        let json = serde_json::to_string(&set).map_err(|e| ConfigError::JwtKeyUnusable(e.to_string()))?;
        Ok(std::sync::Arc::from(json))
    }

    /// Single sign-on's callback address and which issuers it accepts.
    pub fn sso(&self) -> tessera_application::sso::SsoSettings {
        let production = self.is_production();
        tessera_application::sso::SsoSettings {
            redirect_uri: self
                .http
                .public_url(production)
                .map(|url| format!("{url}/sso/callback")),
            allow_loopback_http: !production,
        }
    }

    /// Development lets webhooks reach `http` and local addresses.
    pub fn webhooks_may_reach_local_addresses(&self) -> bool {
        !self.is_production()
    }

    pub fn introspection_enabled(&self) -> bool {
        self.http.introspection_enabled(self.runtime.environment)
    }

    /// The API's settings; the caller adds what is loaded or built at start
    /// (readiness checks, trusted documents).
    pub fn api(&self) -> Result<tessera_api::ApiConfig, ConfigError> {
        Ok(tessera_api::ApiConfig {
            schema: self.limits.schema(self.introspection_enabled()),
            graphiql: self.http.graphiql,
            max_batch_operations: self.limits.max_batch_operations,
            document_cache_bytes: self.limits.document_cache_bytes,
            loader_delay: self.limits.loader_delay(),
            base_domain: self.http.base_domain.clone(),
            session_cookies: self.auth.session_cookies,
            cors_allowed_origins: self.http.cors_origins(),
            hsts_max_age_seconds: self.http.hsts_max_age_seconds,
            request_timeout: self.http.request_timeout(),
            access_log: self.http.access_log,
            metrics: self.http.metrics_on_main_address(self.runtime.environment),
            websocket: self.limits.websocket(),
            billing: self.billing.webhook(),
            published_keys: self.published_keys()?,
            sso: tessera_api::http::SsoHttp {
                return_url: self.auth.sso_return_url.as_ref().map(|url| url.trim().to_owned()),
                secure_cookie: self
                    .http
                    .public_url(self.is_production())
                    .is_some_and(|url| url.starts_with("https://")),
            },
            public_url: self.http.public_url(self.is_production()),
            trusted_proxies: self.http.trusted_proxy_addresses()?,
            trusted_documents_required: self.trusted_documents.policy(),
            session_cookie_max_age_seconds: tessera_application::AuthSettings::default()
                .refresh_token_ttl
                .num_seconds(),
            ..tessera_api::ApiConfig::default()
        })
    }
}

#[cfg(test)]
mod tests;
