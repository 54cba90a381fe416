//! Liveness (the process answers) and readiness (the database answers).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "healthy" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let started = Instant::now();
    let result = state.app.check_store().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, database) = match result {
        Ok(()) => (StatusCode::OK, json!({ "status": "healthy", "latencyMs": latency_ms })),
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "unhealthy", "latencyMs": latency_ms }),
            )
        }
    };
    let overall = if status == StatusCode::OK {
        "healthy"
    } else {
        "unhealthy"
    };
    (
        status,
        Json(json!({ "status": overall, "checks": { "database": database } })),
    )
}
