//! The composition root: configuration, wiring of adapters into the application, the
//! HTTP server's life cycle, and the command line (`serve`, `migrate`, `seed`, `schema`).

mod admin;
pub mod config;
pub mod config_check;
pub mod seed;
pub mod telemetry;
pub mod tenant_cli;
pub mod trusted;
mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tessera_application::Application;
use tessera_infrastructure::SeaStore;
use tokio::net::TcpListener;

pub use admin::{
    archive_audit, archive_audit_into, connect_for_migrations, export_tenant, migrate_up, set_platform_admin,
    tenant_report_text, verify_audit,
};
pub use config::{Config, DatabaseSection, Environment, JwtAlgorithm, LogFormat};
pub use wiring::{BuildOptions, build_application};
use wiring::{Wired, wire};

/// A server bound to its port and running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served apart from the API (`METRICS_BIND_ADDR`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    metrics_server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub store: SeaStore,
    /// The application the server runs (its meter is flushed on a clean stop).
    pub app: Arc<Application>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    pool_gauges: tokio::task::JoinHandle<()>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, drains in-flight requests, and waits; then stops the workers
    /// (a delivery they were sending is sent again once its reservation runs out) and
    /// flushes the usage counted since the last flush.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
        self.abort_all();
        if let Err(error) = self.app.flush_usage().await {
            tracing::warn!(%error, "the last usage flush failed: its counts are lost");
        }
    }

    /// Stops everything at once, mid-request and mid-delivery, like a crash (the usage
    /// counted since the last flush is lost).
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

/// The outbox and webhook workers: each loops, resting `poll` when it found nothing;
/// and the meter's flush, every flush interval.
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
    {
        // Exports to write or expire, and tenants to purge (a purge that stopped midway
        // is taken up again here).
        let app = app.clone();
        let poll = config.offboarding.poll();
        workers.push(tokio::spawn(tessera_infrastructure::as_background(async move {
            loop {
                let exports = app.run_exports().await;
                let purges = app.run_purges().await;
                for error in [exports.as_ref().err(), purges.as_ref().err()].into_iter().flatten() {
                    tracing::warn!(%error, "an offboarding pass failed");
                }
                if matches!((exports, purges), (Ok(0) | Err(_), Ok(0) | Err(_))) {
                    tokio::time::sleep(poll).await;
                }
            }
        })));
    }
    let metering = app.metering();
    if metering.enabled {
        let app = app.clone();
        workers.push(tokio::spawn(tessera_infrastructure::as_background(async move {
            let mut every = tokio::time::interval(metering.flush_interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(error) = app.flush_usage().await {
                    tracing::warn!(%error, "a usage flush failed; its counts wait for the next one");
                }
            }
        })));
    }
    workers
}

/// Builds everything and serves on `config.bind_addr` (port 0 picks a free port).
pub async fn spawn(config: &Config, options: &BuildOptions) -> anyhow::Result<RunningServer> {
    let Wired { app, store, checks } = wire(config, options).await?;
    let mut api = config.api()?;
    api.readiness_checks = checks;
    let documents = Arc::new(tessera_api::http::TrustedManifest::new(trusted::load(
        &config.trusted_documents.file,
    )?));
    api.trusted_documents = documents.clone();
    let mut workers = spawn_workers(&app, config);
    workers.push(trusted::watch(
        config.trusted_documents.file.clone(),
        documents,
        std::time::Duration::from_secs(config.trusted_documents.reload_seconds),
    ));
    let router = tessera_api::router(app.clone(), api);
    let (metrics_addr, metrics_server) = match config.http.metrics_bind_addr {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding the metrics address {bind}"))?;
            let addr = listener.local_addr()?;
            let admin =
                tessera_api::http::prometheus::admin_router(config.http.metrics_on_admin_address(), app.clone());
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
        app,
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
