//! Webhook endpoints: create, list, update, rotate the secret, and health.

use axum::extract::State;
use serde::Deserialize;
use tiller_core::webhooks::{EndpointChange, EndpointRequest};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params, ApiError,
    },
    state::AppState,
    views::webhooks::{CreatedEndpointOut, EndpointHealthOut, EndpointOut},
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
    /// Store the URL even if its address is one outbound requests may not reach
    /// (loopback, private, metadata), and event types Tiller does not know.
    #[serde(default)]
    pub force: bool,
}

/// Adds a callback URL; the answer shows its secret (and encryption key) once.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/create", tag = "webhooks", request_body = CreateEndpointIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<CreatedEndpointOut>), (status = 400, body = V1Error)))]
async fn create_endpoint(
    State(app): State<AppState>,
    req: Signed<CreateEndpointIn>,
) -> Result<V1<CreatedEndpointOut>, ApiError> {
    let b = req.body;
    let request = EndpointRequest {
        url: b.url,
        events: b.events,
        encrypt: b.encrypt,
        force: b.force,
    };
    let created = app.webhooks.create_endpoint(req.tenant.id, request).await?;
    Ok(V1::ok(&req.request_id, created.into()))
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
    let endpoints = app.webhooks.endpoints(req.tenant.id).await?;
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
    /// As on create: store a URL the outbound guard refuses, or unknown event types.
    #[serde(default)]
    pub force: bool,
}

/// Changes an endpoint's URL, events or enabled flag.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/update", tag = "webhooks", request_body = UpdateEndpointIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<EndpointOut>), (status = 400, body = V1Error), (status = 404, body = V1Error)))]
async fn update_endpoint(
    State(app): State<AppState>,
    req: Signed<UpdateEndpointIn>,
) -> Result<V1<EndpointOut>, ApiError> {
    let b = req.body;
    let change = EndpointChange {
        url: b.url,
        events: b.events.map(|e| if e == ["*"] { None } else { Some(e) }),
        enabled: b.enabled,
        force: b.force,
    };
    let endpoint = app
        .webhooks
        .update_endpoint(req.tenant.id, &b.endpoint_id, change)
        .await?;
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
    let rotated = app
        .webhooks
        .rotate_secret(req.tenant.id, &req.body.endpoint_id)
        .await?;
    Ok(V1::ok(&req.request_id, rotated.into()))
}

/// Per endpoint: pending, delivered and dead deliveries, the last attempt, the failure run.
#[utoipa::path(post, path = "/api/v1/webhook/endpoint/health", tag = "webhooks", request_body = ListEndpointsIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<Vec<EndpointHealthOut>>)))]
async fn endpoint_health(
    State(app): State<AppState>,
    req: Signed<ListEndpointsIn>,
) -> Result<V1<Vec<EndpointHealthOut>>, ApiError> {
    let health = app.webhooks.health(req.tenant.id).await?;
    Ok(V1::ok(
        &req.request_id,
        health.iter().map(EndpointHealthOut::from).collect(),
    ))
}
