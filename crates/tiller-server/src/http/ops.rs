//! Operational endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::surface::Envelope;
use crate::state::AppState;

/// They take no input, so their errors (a failing metrics encoder) are claimed for the
/// /api/v1 envelope without documenting a 400.
pub fn routes() -> OpenApiRouter<AppState> {
    Envelope::V1.claim(
        OpenApiRouter::new()
            .routes(routes!(healthz))
            .routes(routes!(readyz))
            .routes(routes!(metrics))
            .routes(routes!(super::openapi::get_openapi)),
    )
}

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Object, example = json!({"status":"ok"}))))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every embedded migration is applied; one field per check.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "The database is unreachable or migrations are pending", body = Object),
    )
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let db = &state.readiness;
    let database = match db.ping().await {
        Ok(()) => json!({ "status": "ok", "backend": db.backend() }),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness: database unreachable");
            json!({ "status": "error", "backend": db.backend(), "error": "database unreachable" })
        }
    };
    let migrations = match db.migration_status().await {
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

/// Prometheus metrics in the OpenMetrics text format: request counts and latencies by
/// route template and status.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    match state.readiness.outbox_stats(state.clock.now()).await {
        Ok(outbox) => state.metrics.set_outbox(outbox.pending, outbox.in_flight),
        Err(e) => tracing::warn!(error = ?e, "reading outbox gauges failed"),
    }
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
