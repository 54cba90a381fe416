//! Wiring: the adapters each setting selects, plugged into the application's ports,
//! with the readiness checks the server reports.

use std::sync::Arc;

use anyhow::Context as _;
use tessera_api::http::DependencyCheck;
use tessera_application::offboarding::OffboardingPorts;
use tessera_application::ports::{
    AccessCache, AttemptLimiter, DomainVerifier, EventBus, Mailer, PersistedQueryStore, RateLimiter,
};
use tessera_application::{Application, AuthSettings, Ports};
use tessera_infrastructure::{
    Argon2PasswordHasher, HttpDomainVerifier, HttpOidcClient, HttpWebhookSender, InProcessAccessCache,
    InProcessAttempts, InProcessEventBus, InProcessPersistedQueries, InProcessRateLimiter, JwtTokenIssuer, LogMailer,
    MailRenderer, RandomSecrets, Redis, RedisAccessCache, RedisAttempts, RedisEventBus, RedisPersistedQueries,
    RedisRateLimiter, SeaStore, SealingBox, SmtpMailer, SmtpSettings, SystemClock, TotpAuthenticators, UuidV7Ids,
};
use tessera_migration::{Migrator, MigratorTrait};

use crate::admin::migrate_up;
use crate::config::Config;

/// Knobs tests may turn; the defaults are what `tessera serve` uses.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Cheap password hashing (tests only).
    pub fast_password_hashing: bool,
    /// Where mail goes; the development log mailer when `None`.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// How custom domains prove control; HTTP on port 80 when `None`.
    pub domain_verifier: Option<Arc<dyn DomainVerifier>>,
    /// The plan catalogue instead of the configured one (tests only).
    pub plans: Option<tessera_domain::PlanCatalogue>,
}

/// Connects, migrates (when configured), checks the run-time role and wires the application.
pub async fn build_application(
    config: &Config,
    options: &BuildOptions,
) -> anyhow::Result<(Arc<Application>, SeaStore)> {
    let wired = wire(config, options).await?;
    Ok((wired.app, wired.store))
}

/// The wired application, its store, and what readiness should ask about.
pub(crate) struct Wired {
    pub(crate) app: Arc<Application>,
    pub(crate) store: SeaStore,
    pub(crate) checks: Vec<Arc<dyn DependencyCheck>>,
}

/// Readiness: every migration this binary knows is applied.
struct MigrationsApplied(SeaStore);

impl std::fmt::Debug for MigrationsApplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MigrationsApplied")
    }
}

#[async_trait::async_trait]
impl DependencyCheck for MigrationsApplied {
    fn name(&self) -> &'static str {
        "migrations"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<(), String> {
        let applied = self.0.applied_migrations().await?;
        let pending: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .filter(|name| !applied.contains(name))
            .collect();
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("{} pending: {}", pending.len(), pending.join(", ")))
        }
    }
}

/// Readiness: Redis answers `PING` (optional: without it requests still work).
struct RedisAnswers(Redis);

impl std::fmt::Debug for RedisAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisAnswers")
    }
}

#[async_trait::async_trait]
impl DependencyCheck for RedisAnswers {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn required(&self) -> bool {
        false
    }
    async fn check(&self) -> Result<(), String> {
        self.0.ping().await
    }
}

pub(crate) async fn wire(config: &Config, options: &BuildOptions) -> anyhow::Result<Wired> {
    config.validate()?;
    if config.database.migrate_on_start {
        migrate_up(&config.database).await?;
    }
    let store = SeaStore::connect(&config.database.settings())
        .await
        .context("connecting to the database")?;
    // Fail closed: a role that bypasses RLS would silently turn off lock 3.
    store
        .verify_runtime_role()
        .await
        .map_err(|problem| anyhow::anyhow!(problem))?;

    let hasher = if options.fast_password_hashing {
        Argon2PasswordHasher::fast_for_tests()
    } else {
        Argon2PasswordHasher::new()
    };
    let mut checks: Vec<Arc<dyn DependencyCheck>> = vec![Arc::new(MigrationsApplied(store.clone()))];
    let redis = match &config.redis.url {
        Some(url) => {
            let redis = Redis::connect(url.expose()).context("setting up Redis")?;
            checks.push(Arc::new(RedisAnswers(redis.clone())));
            Some(redis)
        }
        None => None,
    };
    let shared = redis_or_in_process(redis.as_ref(), config);
    let extra_roots = config.webhooks.extra_roots()?;
    let webhook_sender = HttpWebhookSender::new(
        config.webhooks.timeout(),
        config.webhooks_may_reach_local_addresses(),
        extra_roots.as_deref(),
        config.webhooks.webhook_tessera_signature,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let ports = Ports {
        event_bus: shared.event_bus,
        webhook_sender: Arc::new(webhook_sender),
        store: Arc::new(store.clone()),
        password_hasher: Arc::new(hasher),
        token_issuer: Arc::new(JwtTokenIssuer::new(config.jwt_keys()?).context("loading the JWT keys")?),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
        mailer: match options.mailer.clone() {
            Some(mailer) => mailer,
            None => mailer(config)?,
        },
        access_cache: shared.access_cache,
        attempts: shared.attempts,
        domain_verifier: options
            .domain_verifier
            .clone()
            .unwrap_or_else(|| Arc::new(HttpDomainVerifier::new(std::time::Duration::from_secs(10)))),
        rate_limiter: shared.rate_limiter,
        persisted_queries: shared.persisted_queries,
        authenticators: Arc::new(TotpAuthenticators::new(config.auth.totp_issuer.clone())),
        secret_box: {
            let (current, earlier) = config.auth.secrets_keys(config.runtime.environment)?;
            Arc::new(SealingBox::new(&current, &earlier))
        },
        oidc: Arc::new(
            HttpOidcClient::new(std::time::Duration::from_secs(10), !config.is_production())
                .map_err(|e| anyhow::anyhow!(e))?,
        ),
    };
    let auth = AuthSettings {
        access_token_ttl: config.auth.access_token_ttl(),
        base_domain: config.http.base_domain.clone(),
        onboarding_gate: config.auth.onboarding_gate,
        ..AuthSettings::default()
    };
    let plans = match options.plans.clone() {
        Some(plans) => plans,
        None => config.plans.catalogue()?,
    };
    Ok(Wired {
        app: Arc::new(
            Application::new(ports, auth)
                .with_rate_limits(config.limits.rate_limits())
                .with_metering(config.limits.metering())
                .with_webhooks(config.webhooks.settings(config.webhooks_may_reach_local_addresses()))
                .with_persisted_queries(config.limits.persisted_queries())
                .with_sso(config.sso())
                .with_billing(config.billing.settings(&plans)?)
                .with_offboarding(offboarding_ports(&store, config), config.offboarding.settings())
                .with_plans(plans),
        ),
        store,
        checks,
    })
}

/// Exports and purges: written from the server's database, kept in `EXPORT_DIR`.
pub(crate) fn offboarding_ports(store: &SeaStore, config: &Config) -> OffboardingPorts {
    use tessera_infrastructure::offboarding::{
        HmacLinkSigner, LocalArchiveStorage, SeaTenantArchiver, SeaTenantPurger,
    };
    OffboardingPorts {
        archiver: Arc::new(SeaTenantArchiver::new(store.connection().clone())),
        storage: Arc::new(LocalArchiveStorage::new(config.offboarding.export_dir.clone())),
        purger: Arc::new(SeaTenantPurger::new(store.connection().clone())),
        signer: Arc::new(HmacLinkSigner::new(config.offboarding.link_key())),
    }
}

/// The adapters every replica must share: on the one Redis pool when `REDIS_URL` is
/// set, else in this process.
struct SharedState {
    access_cache: Arc<dyn AccessCache>,
    attempts: Arc<dyn AttemptLimiter>,
    rate_limiter: Arc<dyn RateLimiter>,
    persisted_queries: Arc<dyn PersistedQueryStore>,
    event_bus: Arc<dyn EventBus>,
}

fn redis_or_in_process(redis: Option<&Redis>, config: &Config) -> SharedState {
    let cache_ttl = config.redis.access_cache_ttl();
    // Revocation marks must outlive every access token issued before the revocation.
    let revocation_ttl = std::time::Duration::from_secs(u64::from(config.auth.access_token_ttl_seconds) + 60);
    let attempt_window = std::time::Duration::from_secs(15 * 60);
    match redis {
        Some(redis) => SharedState {
            access_cache: Arc::new(RedisAccessCache::new(redis, cache_ttl, revocation_ttl)),
            attempts: Arc::new(RedisAttempts::new(redis, attempt_window)),
            rate_limiter: Arc::new(RedisRateLimiter::new(redis)),
            persisted_queries: Arc::new(RedisPersistedQueries::new(redis)),
            event_bus: Arc::new(RedisEventBus::new(redis)),
        },
        None => SharedState {
            access_cache: Arc::new(InProcessAccessCache::new(cache_ttl, 100_000, revocation_ttl)),
            attempts: Arc::new(InProcessAttempts::new(attempt_window)),
            rate_limiter: Arc::new(InProcessRateLimiter::new(1_000_000)),
            persisted_queries: Arc::new(InProcessPersistedQueries::new(
                config.limits.persisted_query_cache_bytes,
            )),
            event_bus: Arc::new(InProcessEventBus::default()),
        },
    }
}

/// SMTP when `SMTP_URL` is set, else the development log mailer.
fn mailer(config: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let renderer = MailRenderer::new(config.mail.app_url.as_deref());
    match &config.mail.smtp_url {
        Some(url) => {
            let settings = SmtpSettings {
                url: url.expose().to_owned(),
                from: config.mail.mail_from.clone(),
                timeout: std::time::Duration::from_secs(10),
            };
            Ok(Arc::new(
                SmtpMailer::new(&settings, renderer).map_err(|e| anyhow::anyhow!(e))?,
            ))
        }
        None => {
            if config.is_production() {
                // Mails carry secrets (reset and invitation tokens): never log their text here.
                tracing::warn!("SMTP_URL is not set: mails are not delivered (only their kind is logged)");
                return Ok(Arc::new(LogMailer::redacted(renderer)));
            }
            Ok(Arc::new(LogMailer::new(renderer)))
        }
    }
}
