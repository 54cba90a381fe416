//! Prometheus metrics at `/metrics` (optionally behind a bearer token): GraphQL
//! requests by operation and outcome with latency histograms, errors by code,
//! rate-limit refusals; the requests of the busiest tenants in the last metering
//! window (at most `METRICS_TOP_TENANTS` of them, the rest as `other`), and the
//! build's version; the cache, pool, outbox and webhook adapters add their own series.
//! Labels never carry user input: an operation is named by a root field the schema
//! knows, or `unknown`.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use tessera_application::Application;

use crate::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (one per process, however many servers run in it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "another metrics recorder is installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Folds pending histogram samples into their buckets (also done on every scrape).
pub fn upkeep() {
    if let Some(handle) = handle() {
        handle.run_upkeep();
    }
}

/// Who may read `/metrics` on a listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who can reach the listener (development, or a separate admin address).
    #[default]
    Open,
    /// Callers presenting `Authorization: Bearer <token>`.
    Bearer(String),
    /// Nobody here: production without a token, or metrics served on another address.
    Refused,
}

pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    render_for(&state.config.metrics, &headers, &state.app)
}

/// `/metrics` on the separate admin listener (`METRICS_BIND_ADDR`).
pub fn admin_router(access: MetricsAccess, app: Arc<Application>) -> axum::Router {
    handle();
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| {
            let access = access.clone();
            let app = app.clone();
            async move { render_for(&access, &headers, &app) }
        }),
    )
}

/// This server's own series, written next to the recorder's: the busiest tenants of
/// the last metering window and the build.
fn server_series(app: &Application) -> String {
    let traffic = app.tenant_traffic();
    let mut text = String::from(
        "# HELP tessera_tenant_requests_window Requests that ran in the last metering window, \
         for the busiest tenants (the rest as \"other\").\n\
         # TYPE tessera_tenant_requests_window gauge\n",
    );
    for (tenant, calls) in &traffic.busiest {
        let _ = writeln!(text, "tessera_tenant_requests_window{{tenant=\"{tenant}\"}} {calls}");
    }
    let _ = writeln!(
        text,
        "tessera_tenant_requests_window{{tenant=\"other\"}} {}",
        traffic.others
    );
    let _ = write!(
        text,
        "# HELP tessera_build_info The running build.\n# TYPE tessera_build_info gauge\n\
         tessera_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    );
    text
}

fn render_for(access: &MetricsAccess, headers: &HeaderMap, app: &Application) -> Response {
    match access {
        MetricsAccess::Open => {}
        MetricsAccess::Refused => {
            return (
                StatusCode::NOT_FOUND,
                "metrics are not served here: set METRICS_TOKEN, or METRICS_BIND_ADDR for a separate address",
            )
                .into_response();
        }
        MetricsAccess::Bearer(expected) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
                return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
            }
        }
    }
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not recorded in this process",
        )
            .into_response();
    };
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render() + &server_series(app),
    )
        .into_response()
}
