//! Operational endpoints: liveness, readiness and Prometheus metrics.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every embedded migration is applied; one field per check.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => json!({ "status": "ok", "backend": state.store.backend() }),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness: database unreachable");
            json!({ "status": "error", "backend": state.store.backend(), "error": "database unreachable" })
        }
    };
    let migrations = match state.store.migration_status().await {
        Ok(m) if m.is_current() => {
            json!({ "status": "ok", "applied": m.applied, "expected": m.expected })
        }
        Ok(m) => json!({ "status": "pending", "applied": m.applied, "expected": m.expected }),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness: migration status unavailable");
            json!({ "status": "error" })
        }
    };
    let ready = database["status"] == "ok" && migrations["status"] == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": { "database": database, "migrations": migrations },
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => crate::http::ApiError::internal(anyhow::anyhow!("encoding metrics: {e}"))
            .into_response(),
    }
}
