//! Liveness (the process answers) and readiness: the database (required) plus every
//! dependency check the server adds (migrations applied, Redis…). A required
//! dependency that fails makes the server `unhealthy` (503); an optional one makes it
//! `degraded` (still 200: requests are served without it). Each check is timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::AppState;

/// One dependency the readiness probe asks about.
#[async_trait]
pub trait DependencyCheck: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Down means unhealthy when required, degraded otherwise.
    fn required(&self) -> bool;
    async fn check(&self) -> Result<(), String>;
}

/// No single check may hold the probe longer than this.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "healthy" }))
}

async fn timed(check: impl std::future::Future<Output = Result<(), String>>) -> (Result<(), String>, f64) {
    let started = Instant::now();
    let result = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    };
    (result, started.elapsed().as_secs_f64() * 1000.0)
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut checks = Map::new();
    let mut unhealthy = false;
    let mut degraded = false;
    let app = state.app.clone();
    let database = timed(async move { app.check_store().await.map_err(|e| e.to_string()) }).await;
    let extra: &[Arc<dyn DependencyCheck>] = &state.config.readiness_checks;
    let mut results = vec![("database", true, database)];
    for check in extra {
        results.push((check.name(), check.required(), timed(check.check()).await));
    }
    for (name, required, (result, latency_ms)) in results {
        let status = match &result {
            Ok(()) => "healthy",
            Err(error) => {
                tracing::warn!(dependency = name, %error, "readiness check failed");
                if required {
                    unhealthy = true;
                    "unhealthy"
                } else {
                    degraded = true;
                    "degraded"
                }
            }
        };
        // The cause stays in the log: this endpoint answers anyone.
        checks.insert(name.to_owned(), json!({ "status": status, "latencyMs": latency_ms }));
    }
    let (code, overall) = match (unhealthy, degraded) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::OK, "healthy"),
    };
    (code, Json(json!({ "status": overall, "checks": checks })))
}
