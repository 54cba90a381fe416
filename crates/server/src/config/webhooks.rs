//! Event delivery settings: the outbox workers, webhook sending (concurrency, timeouts,
//! retries, TLS roots) and how long delivered work is kept.

use chrono::Duration;
use clap::Args;

use super::ConfigError;
use super::values::within;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Events and webhooks")]
pub struct WebhookSection {
    /// Outbox workers in this process (0: this replica delivers no events). Replicas
    /// share the work: each tenant's queue is taken by one worker at a time.
    #[arg(long, env = "OUTBOX_WORKERS", default_value_t = 1)]
    pub outbox_workers: u16,

    /// How often an idle outbox or webhook worker looks for work, in milliseconds.
    #[arg(long, env = "OUTBOX_POLL_MS", default_value_t = 250)]
    pub outbox_poll_ms: u64,

    /// Days handed-over outbox events are kept before a later hand-over deletes them.
    #[arg(long, env = "OUTBOX_RETENTION_DAYS", default_value_t = 7)]
    pub outbox_retention_days: u32,

    /// Webhook delivery loops in this process (0: this replica sends none). They share
    /// the process's WEBHOOK_CONCURRENCY.
    #[arg(long, env = "WEBHOOK_WORKERS", default_value_t = 1)]
    pub webhook_workers: u16,

    /// Deliveries this process sends at once.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub webhook_concurrency: usize,

    /// Of those, at most this many for one tenant (a slow tenant holds only these).
    #[arg(long, env = "WEBHOOK_CONCURRENCY_PER_TENANT", default_value_t = 4)]
    pub webhook_concurrency_per_tenant: usize,

    /// And at most this many to one endpoint.
    #[arg(long, env = "WEBHOOK_CONCURRENCY_PER_ENDPOINT", default_value_t = 2)]
    pub webhook_concurrency_per_endpoint: usize,

    /// Redeliveries one tenant may ask for per hour (`redeliverWebhook`).
    #[arg(long, env = "WEBHOOK_REDELIVERIES_PER_HOUR", default_value_t = 100)]
    pub webhook_redeliveries_per_hour: u32,

    /// Extra CA certificates (PEM) that webhook deliveries trust besides the built-in
    /// roots: for receivers behind a private CA. Verification is never turned off.
    #[arg(long, env = "WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<std::path::PathBuf>,

    /// Also sign deliveries with the `Tessera-Signature` header (and send the
    /// `Tessera-Event-*` headers) of earlier releases, next to the Standard Webhooks
    /// `webhook-*` headers, for receivers written before.
    #[arg(long, env = "WEBHOOK_TESSERA_SIGNATURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_tessera_signature: bool,

    /// How long a webhook receiver has to answer, in seconds. A delivery in flight is
    /// reserved for twice this (plus a second); a replica that dies mid-delivery leaves
    /// it to be sent again after that.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10)]
    pub webhook_timeout_seconds: u64,

    /// Attempts per delivery before it is marked failed.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 12)]
    pub webhook_max_attempts: u32,

    /// The first retry's delay in milliseconds; each later one doubles (with jitter).
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 30_000)]
    pub webhook_retry_base_ms: u64,

    /// The longest delay between two attempts, in seconds.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_DELAY_SECONDS", default_value_t = 21_600)]
    pub webhook_retry_max_delay_seconds: u64,

    /// No attempt is made later than this after the event, in hours.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_AGE_HOURS", default_value_t = 72)]
    pub webhook_retry_max_age_hours: u64,

    /// Days ended webhook deliveries (the `webhookDeliveries` log) are kept.
    #[arg(long, env = "WEBHOOK_DELIVERY_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_delivery_retention_days: u32,

    /// An endpoint is disabled after this many deliveries in a row failed for good.
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER", default_value_t = 5)]
    pub webhook_disable_after: u32,
}

impl WebhookSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        within("OUTBOX_WORKERS", self.outbox_workers, 0..=64)?;
        within("OUTBOX_POLL_MS", self.outbox_poll_ms, 10..=60_000)?;
        within("OUTBOX_RETENTION_DAYS", self.outbox_retention_days, 1..=3_650)?;
        within("WEBHOOK_WORKERS", self.webhook_workers, 0..=64)?;
        within("WEBHOOK_CONCURRENCY", self.webhook_concurrency, 1..=1_024)?;
        within(
            "WEBHOOK_CONCURRENCY_PER_TENANT",
            self.webhook_concurrency_per_tenant,
            1..=1_024,
        )?;
        within(
            "WEBHOOK_CONCURRENCY_PER_ENDPOINT",
            self.webhook_concurrency_per_endpoint,
            1..=1_024,
        )?;
        within(
            "WEBHOOK_REDELIVERIES_PER_HOUR",
            self.webhook_redeliveries_per_hour,
            1..=100_000,
        )?;
        within("WEBHOOK_TIMEOUT_SECONDS", self.webhook_timeout_seconds, 1..=300)?;
        within("WEBHOOK_MAX_ATTEMPTS", self.webhook_max_attempts, 1..=100)?;
        within("WEBHOOK_RETRY_BASE_MS", self.webhook_retry_base_ms, 1..=86_400_000)?;
        within(
            "WEBHOOK_RETRY_MAX_DELAY_SECONDS",
            self.webhook_retry_max_delay_seconds,
            1..=7 * 86_400,
        )?;
        within(
            "WEBHOOK_RETRY_MAX_AGE_HOURS",
            self.webhook_retry_max_age_hours,
            1..=30 * 24,
        )?;
        within(
            "WEBHOOK_DELIVERY_RETENTION_DAYS",
            self.webhook_delivery_retention_days,
            1..=3_650,
        )?;
        within("WEBHOOK_DISABLE_AFTER", self.webhook_disable_after, 1..=1_000)
    }

    /// How long an idle worker rests before it looks for work again.
    pub fn poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.outbox_poll_ms)
    }

    /// How long a webhook receiver has to answer: the sender's timeout, and the base
    /// of a claimed delivery's reservation (one number, so the two cannot drift).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.webhook_timeout_seconds)
    }

    /// The extra TLS roots in `WEBHOOK_CA_FILE`, if set.
    pub fn extra_roots(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        self.webhook_ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| ConfigError::WebhookCaFile(path.display().to_string(), e.to_string()))
            })
            .transpose()
    }

    /// The application's delivery settings; `allow_local_urls` in development only.
    pub fn settings(&self, allow_local_urls: bool) -> tessera_application::webhooks::WebhookSettings {
        use tessera_application::webhooks::{DeliveryConcurrency, WebhookSettings};
        // Each value was checked against its range, which fits an i64.
        let seconds = |value: u64| Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX));
        let timeout = seconds(self.webhook_timeout_seconds);
        WebhookSettings {
            allow_local_urls,
            retry: tessera_domain::RetryPolicy {
                base: Duration::milliseconds(i64::try_from(self.webhook_retry_base_ms).unwrap_or(i64::MAX)),
                max_delay: seconds(self.webhook_retry_max_delay_seconds),
                max_attempts: self.webhook_max_attempts,
                max_age: Duration::hours(i64::try_from(self.webhook_retry_max_age_hours).unwrap_or(i64::MAX)),
            },
            disable_after_failed_deliveries: self.webhook_disable_after,
            lease: timeout * 2 + Duration::seconds(1),
            outbox_retention: Duration::days(i64::from(self.outbox_retention_days)),
            delivery_retention: Duration::days(i64::from(self.webhook_delivery_retention_days)),
            concurrency: DeliveryConcurrency {
                total: self.webhook_concurrency,
                per_tenant: self.webhook_concurrency_per_tenant,
                per_endpoint: self.webhook_concurrency_per_endpoint,
            },
            redeliveries_per_hour: self.webhook_redeliveries_per_hour,
            ..WebhookSettings::default()
        }
    }
}
