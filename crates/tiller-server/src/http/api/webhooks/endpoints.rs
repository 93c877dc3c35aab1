//! Webhook endpoints: create, list, update, rotate the secret, and health.

use axum::extract::State;
use chrono::Duration;
use serde::Deserialize;
use tiller_core::webhooks::EndpointPatch;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{self, CreatedEndpointOut, EndpointHealthOut, EndpointOut};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params, ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint))
        .routes(routes!(list_endpoints))
        .routes(routes!(update_endpoint))
        .routes(routes!(rotate_endpoint_secret))
        .routes(routes!(endpoint_health))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateEndpointIn {
    pub url: String,
    /// Event types to deliver (`message.send`, …); every event when left out.
    #[serde(default, deserialize_with = "params::event_types")]
    #[schema(max_items = 32)]
    pub events: Option<Vec<String>>,
    /// Encrypt payloads with a per-endpoint AES-256-GCM key.
    #[serde(default)]
    pub encrypt: bool,
}

/// Adds a callback URL; the answer shows its secret (and encryption key) once.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/create", tag = "webhooks", request_body = CreateEndpointIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<CreatedEndpointOut>), (status = 400, body = V1Error)))]
async fn create_endpoint(
    State(app): State<AppState>,
    req: Signed<CreateEndpointIn>,
) -> Result<V1<CreatedEndpointOut>, ApiError> {
    let b = req.body;
    let created = wire::create_endpoint(
        &app.store,
        req.tenant.id,
        &b.url,
        b.events,
        b.encrypt,
        app.clock.now(),
    )
    .await?;
    Ok(V1::ok(&req.request_id, created))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListEndpointsIn {}

/// The tenant's endpoints, oldest first, without secrets.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/list", tag = "webhooks", request_body = ListEndpointsIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<Vec<EndpointOut>>)))]
async fn list_endpoints(
    State(app): State<AppState>,
    req: Signed<ListEndpointsIn>,
) -> Result<V1<Vec<EndpointOut>>, ApiError> {
    let endpoints = app.store.endpoints(req.tenant.id).await?;
    Ok(V1::ok(
        &req.request_id,
        endpoints.iter().map(EndpointOut::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateEndpointIn {
    pub endpoint_id: String,
    #[serde(default)]
    pub url: Option<String>,
    /// A list of event types; `["*"]` for every event.
    #[serde(default, deserialize_with = "params::event_types")]
    #[schema(max_items = 32)]
    pub events: Option<Vec<String>>,
    /// Re-enabling clears the failure record.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Changes an endpoint's URL, events or enabled flag.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/update", tag = "webhooks", request_body = UpdateEndpointIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<EndpointOut>), (status = 400, body = V1Error), (status = 404, body = V1Error)))]
async fn update_endpoint(
    State(app): State<AppState>,
    req: Signed<UpdateEndpointIn>,
) -> Result<V1<EndpointOut>, ApiError> {
    let b = req.body;
    let events = b.events.map(|e| if e == ["*"] { None } else { Some(e) });
    if let Some(url) = &b.url {
        wire::validate_endpoint(url, events.as_ref().and_then(Option::as_deref))?;
    } else if let Some(Some(e)) = &events {
        wire::validate_endpoint("https://example.invalid", Some(e))?;
    }
    let patch = EndpointPatch {
        url: b.url,
        event_types: events,
        enabled: b.enabled,
    };
    let endpoint = app
        .store
        .update_endpoint(req.tenant.id, &b.endpoint_id, &patch, app.clock.now())
        .await
        .map_err(wire::not_found("endpoint"))?;
    Ok(V1::ok(&req.request_id, (&endpoint).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RotateSecretIn {
    pub endpoint_id: String,
}

/// A new signing secret; the old one keeps signing for `webhooks.secret_rotation_grace`.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/rotate_secret", tag = "webhooks", request_body = RotateSecretIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<CreatedEndpointOut>), (status = 404, body = V1Error)))]
async fn rotate_endpoint_secret(
    State(app): State<AppState>,
    req: Signed<RotateSecretIn>,
) -> Result<V1<CreatedEndpointOut>, ApiError> {
    let grace = humantime::parse_duration(&app.cfg.webhooks.secret_rotation_grace)
        .map_err(ApiError::internal)?;
    let grace = Duration::from_std(grace).map_err(ApiError::internal)?;
    let rotated = wire::rotate_secret(
        &app.store,
        req.tenant.id,
        &req.body.endpoint_id,
        grace,
        app.clock.now(),
    )
    .await?;
    Ok(V1::ok(&req.request_id, rotated))
}

/// Per endpoint: pending, delivered and dead deliveries, the last attempt, the failure run.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/health", tag = "webhooks", request_body = ListEndpointsIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<Vec<EndpointHealthOut>>)))]
async fn endpoint_health(
    State(app): State<AppState>,
    req: Signed<ListEndpointsIn>,
) -> Result<V1<Vec<EndpointHealthOut>>, ApiError> {
    let health = app.store.endpoint_health(req.tenant.id).await?;
    Ok(V1::ok(
        &req.request_id,
        health.iter().map(EndpointHealthOut::from).collect(),
    ))
}
