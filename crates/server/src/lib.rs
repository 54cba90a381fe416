//! The composition root: configuration, wiring of adapters into the application, the
//! HTTP server's life cycle, and the command line (`serve`, `migrate`, `seed`, `schema`).

pub mod config;
pub mod seed;
pub mod trusted;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tessera_api::http::DependencyCheck;
use tessera_application::ports::{
    AccessCache, AttemptLimiter, DomainVerifier, EventBus, Mailer, PersistedQueryStore, RateLimiter,
};
use tessera_application::{Application, AuthSettings, Ports};
use tessera_infrastructure::{
    Argon2PasswordHasher, HttpDomainVerifier, InProcessAccessCache, InProcessAttempts, InProcessPersistedQueries,
    InProcessRateLimiter, JwtTokenIssuer, LogMailer, MailRenderer, RandomSecrets, Redis, RedisAccessCache,
    RedisAttempts, RedisPersistedQueries, RedisRateLimiter, SeaStore, SmtpMailer, SmtpSettings, SystemClock, UuidV7Ids,
};
use tessera_infrastructure::{HttpWebhookSender, InProcessEventBus, RedisEventBus};
use tessera_migration::{Migrator, MigratorTrait};

use tokio::net::TcpListener;

pub use config::{Config, DatabaseSection, Environment, LogFormat};

/// Applies every pending migration using the migration (owner) connection.
pub async fn migrate_up(database: &DatabaseSection) -> anyhow::Result<()> {
    let db = connect_for_migrations(database).await?;
    Migrator::up(&db, None).await.context("applying migrations")?;
    db.close().await.ok();
    Ok(())
}

pub async fn connect_for_migrations(database: &DatabaseSection) -> anyhow::Result<DatabaseConnection> {
    database.validate()?;
    let url = database.migration_url();
    let mut options = sea_orm::ConnectOptions::new(url.expose());
    options
        .acquire_timeout(std::time::Duration::from_secs(database.acquire_timeout_seconds))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to the migration database {url}"))?;
    // SQLite enforces foreign keys per connection; migrations must see them too.
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// `tessera audit verify [--tenant <id>]`: recomputes every audit chain (or one
/// tenant's) over the migration (owner) connection, which reads every tenant.
pub async fn verify_audit(
    database: &DatabaseSection,
    tenant: Option<&str>,
) -> anyhow::Result<Vec<tessera_infrastructure::ChainReport>> {
    let tenant = match tenant {
        Some(raw) => {
            Some(tessera_domain::TenantId::parse(raw).map_err(|_| anyhow::anyhow!("`{raw}` is not a tenant id"))?)
        }
        None => None,
    };
    let db = connect_for_migrations(database).await?;
    tessera_infrastructure::verify_audit_chains(&db, tenant)
        .await
        .map_err(|e| anyhow::anyhow!("reading the audit trail: {e}"))
}

/// `tessera audit archive`: events older than `days` go to `out` (JSON lines, appended
/// and `fsync`ed first), then out of the database.
pub async fn archive_audit(
    database: &DatabaseSection,
    days: u32,
    out: &std::path::Path,
) -> anyhow::Result<tessera_infrastructure::ArchiveReport> {
    let db = connect_for_migrations(database).await?;
    let mut file = open_archive(out)?;
    archive_audit_into(&db, days, &mut file).await
}

/// Archives into any sink (the command's file, or a test's).
pub async fn archive_audit_into(
    db: &DatabaseConnection,
    days: u32,
    sink: &mut dyn tessera_infrastructure::ArchiveSink,
) -> anyhow::Result<tessera_infrastructure::ArchiveReport> {
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    tessera_infrastructure::archive_audit_events(db, before, sink)
        .await
        .map_err(|e| anyhow::anyhow!("archiving the audit trail: {e}"))
}

/// Opens (or creates) the archive for appending; a new file's directory entry is made
/// durable at once, so the file a later `fsync` persists cannot vanish in a crash.
fn open_archive(out: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let existed = out.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("opening {}", out.display()))?;
    if !existed {
        let directory = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::File::open(directory)
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("making {} durable", out.display()))?;
    }
    Ok(file)
}

/// `tessera admin grant|revoke <email>`: the only way to make a platform administrator.
pub async fn set_platform_admin(config: &Config, email: &str, grant: bool) -> anyhow::Result<()> {
    let options = BuildOptions::default();
    let mut config = config.clone();
    // An administrative command must not fail for want of a production JWT secret.
    if config.auth.jwt_secret.is_none() && config.is_production() {
        config.auth.jwt_secret = Some("x".repeat(32).into());
    }
    let (app, _) = build_application(&config, &options).await?;
    app.set_platform_admin(email, grant)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Knobs tests may turn; the defaults are what `tessera serve` uses.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Cheap password hashing (tests only).
    pub fast_password_hashing: bool,
    /// Where mail goes; the development log mailer when `None`.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// How custom domains prove control; HTTP on port 80 when `None`.
    pub domain_verifier: Option<Arc<dyn DomainVerifier>>,
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
struct Wired {
    app: Arc<Application>,
    store: SeaStore,
    checks: Vec<Arc<dyn DependencyCheck>>,
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

async fn wire(config: &Config, options: &BuildOptions) -> anyhow::Result<Wired> {
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
    };
    let auth = AuthSettings {
        access_token_ttl: config.auth.access_token_ttl(),
        base_domain: config.http.base_domain.clone(),
        onboarding_gate: config.auth.onboarding_gate,
        ..AuthSettings::default()
    };
    Ok(Wired {
        app: Arc::new(
            Application::new(ports, auth)
                .with_rate_limits(config.limits.rate_limits())
                .with_webhooks(config.webhooks.settings(config.webhooks_may_reach_local_addresses()))
                .with_persisted_queries(config.limits.persisted_queries()),
        ),
        store,
        checks,
    })
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

/// A server bound to its port and running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served apart from the API (`METRICS_BIND_ADDR`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    metrics_server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub store: SeaStore,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    pool_gauges: tokio::task::JoinHandle<()>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, drains in-flight requests, and waits; then stops the workers
    /// (a delivery they were sending is sent again once its reservation runs out).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
        self.abort_all();
    }

    /// Stops everything at once, mid-request and mid-delivery, like a crash.
    pub fn kill(self) {
        self.handle.abort();
        self.abort_all();
    }

    fn abort_all(&self) {
        self.pool_gauges.abort();
        if let Some(metrics) = &self.metrics_server {
            metrics.abort();
        }
        for worker in &self.workers {
            worker.abort();
        }
    }
}

/// The outbox and webhook workers: each loops, resting `poll` when it found nothing.
/// Their statements count as background work, not as any request's.
fn spawn_workers(app: &Arc<Application>, config: &Config) -> Vec<tokio::task::JoinHandle<()>> {
    let poll = config.webhooks.poll();
    let outbox_workers = usize::from(config.webhooks.outbox_workers);
    let mut workers = Vec::new();
    for worker in 0..outbox_workers {
        let app = app.clone();
        workers.push(tokio::spawn(tessera_infrastructure::as_background(async move {
            loop {
                match app.run_outbox(worker, outbox_workers).await {
                    Ok(0) => tokio::time::sleep(poll).await,
                    Ok(_) => tokio::task::yield_now().await,
                    Err(error) => {
                        tracing::warn!(%error, "an outbox pass failed");
                        tokio::time::sleep(poll).await;
                    }
                }
            }
        })));
    }
    for _ in 0..config.webhooks.webhook_workers {
        let app = app.clone();
        workers.push(tokio::spawn(tessera_infrastructure::as_background(async move {
            // Each send is a task of its own, in the background like the worker.
            app.run_webhook_sender(
                || tokio::time::sleep(poll),
                |send| {
                    tokio::spawn(tessera_infrastructure::as_background(send));
                },
            )
            .await;
        })));
    }
    workers
}

/// Builds everything and serves on `config.bind_addr` (port 0 picks a free port).
pub async fn spawn(config: &Config, options: &BuildOptions) -> anyhow::Result<RunningServer> {
    let Wired { app, store, checks } = wire(config, options).await?;
    let mut api = config.api()?;
    api.readiness_checks = checks;
    api.trusted_documents = Arc::new(trusted::load(&config.trusted_documents.file)?);
    let workers = spawn_workers(&app, config);
    let router = tessera_api::router(app, api);
    let (metrics_addr, metrics_server) = match config.http.metrics_bind_addr {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding the metrics address {bind}"))?;
            let addr = listener.local_addr()?;
            let admin = tessera_api::http::prometheus::admin_router(config.http.metrics_on_admin_address());
            (
                Some(addr),
                Some(tokio::spawn(async move { axum::serve(listener, admin).await })),
            )
        }
        None => (None, None),
    };
    let listener = TcpListener::bind(config.http.bind_addr)
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr))?;
    let addr = listener.local_addr()?;
    let pool_gauges = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                if let Some((open, idle)) = store.pool_usage() {
                    let idle = idle as f64;
                    metrics::gauge!("tessera_db_pool_connections", "state" => "idle").set(idle);
                    metrics::gauge!("tessera_db_pool_connections", "state" => "in_use").set(f64::from(open) - idle);
                }
                // Histogram samples wait in the recorder until upkeep folds them into
                // their buckets; without it (nobody scraping /metrics) they pile up.
                tessera_api::http::prometheus::upkeep();
            }
        })
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        metrics_addr,
        metrics_server,
        store,
        shutdown: Some(tx),
        handle,
        pool_gauges,
        workers,
    })
}

/// `tessera serve`: runs until SIGINT/SIGTERM, then drains in-flight requests.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    let server = spawn(config, &BuildOptions::default()).await?;
    tracing::info!(
        addr = %server.addr,
        graphiql = %format!("http://{}/graphiql", server.addr),
        environment = ?config.runtime.environment,
        "Tessera is listening"
    );
    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    server.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
