//! Database settings: where the run-time and migration connections go, the pool, and
//! how long audit events stay.

use clap::Args;

use super::ConfigError;
use super::values::{ConnectionUrl, within};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseSection {
    /// Database used at run time (SQLite file by default, created on start).
    #[arg(
        id = "database_url",
        value_name = "DATABASE_URL",
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "sqlite://tessera.db?mode=rwc",
        hide_env_values = true
    )]
    pub url: ConnectionUrl,

    /// Database URL used to apply migrations (the schema owner); defaults to DATABASE_URL.
    #[arg(
        id = "database_migration_url",
        value_name = "DATABASE_MIGRATION_URL",
        long = "database-migration-url",
        env = "DATABASE_MIGRATION_URL",
        hide_env_values = true
    )]
    pub migration_url: Option<ConnectionUrl>,

    /// Postgres role every run-time connection switches to (owns nothing, cannot bypass RLS).
    #[arg(
        id = "database_app_role",
        value_name = "DATABASE_APP_ROLE",
        long = "database-app-role",
        env = "DATABASE_APP_ROLE",
        default_value = tessera_migration::APP_ROLE
    )]
    pub app_role: String,

    /// Upper bound on pooled database connections (SQLite always uses one).
    #[arg(
        id = "database_max_connections",
        value_name = "DATABASE_MAX_CONNECTIONS",
        long = "database-max-connections",
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub max_connections: u32,

    /// How long a request waits for a database connection before it fails (also how
    /// fast requests fail while the database is down).
    #[arg(
        id = "database_acquire_timeout_seconds",
        value_name = "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        long = "database-acquire-timeout-seconds",
        env = "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = 5
    )]
    pub acquire_timeout_seconds: u64,

    /// Apply pending migrations when the server starts.
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// Days of audit events kept in the database; `tessera audit archive` moves older
    /// ones to a JSON-lines file (run it daily, e.g. the Kubernetes CronJob).
    #[arg(long, env = "AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
}

impl DatabaseSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        const SCHEMES: &[&str] = &["postgres://", "postgresql://", "sqlite:"];
        if !self.url.starts_with_any(SCHEMES) {
            return Err(ConfigError::DatabaseUrl("DATABASE_URL"));
        }
        if self
            .migration_url
            .as_ref()
            .is_some_and(|url| !url.starts_with_any(SCHEMES))
        {
            return Err(ConfigError::DatabaseUrl("DATABASE_MIGRATION_URL"));
        }
        within("DATABASE_MAX_CONNECTIONS", self.max_connections, 1..=1_000)?;
        within(
            "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
            self.acquire_timeout_seconds,
            1..=120,
        )?;
        within("AUDIT_RETENTION_DAYS", self.audit_retention_days, 1..=36_500)
    }

    /// The owner's connection for migrations: `DATABASE_MIGRATION_URL`, else `DATABASE_URL`.
    pub fn migration_url(&self) -> &ConnectionUrl {
        self.migration_url.as_ref().unwrap_or(&self.url)
    }

    /// The run-time pool's settings.
    pub fn settings(&self) -> tessera_infrastructure::DatabaseSettings {
        tessera_infrastructure::DatabaseSettings {
            url: self.url.expose().to_owned(),
            max_connections: self.max_connections,
            postgres_role: Some(self.app_role.clone()),
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_seconds),
        }
    }
}
