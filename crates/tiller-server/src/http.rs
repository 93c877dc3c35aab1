//! The HTTP layer: router, middleware, extractors and the compatibility surfaces.

pub mod api;
pub mod auth;
pub mod body;
pub mod envelope;
pub mod error;
pub mod observe;
pub mod openapi;
mod openapi_rules;
pub mod ops;
pub mod params;
pub mod serve;
pub mod surface;
pub mod upload;

use std::sync::Arc;

use axum::{extract::DefaultBodyLimit, middleware, Extension, Router};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ErrorKind};

use crate::state::AppState;

/// The id of one request: accepted from `x-request-id` when sane, otherwise 32 fresh
/// hex characters. It is the `/api/v1` `request_id` and the nxlink `traceId`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Every route, with the middleware stack. Outermost first: observe (request id, span,
/// metrics, access log) → render_errors (envelopes) → request timeout → body limit → each
/// surface's claim of its envelope (`surface.rs`) → routes.
pub fn router(state: AppState) -> Router {
    let (routes, mut doc) = described_routes().split_for_parts();
    openapi_rules::apply(&mut doc);
    let doc = serde_json::to_value(&doc).expect("the OpenAPI document serializes");
    routes
        .layer(Extension(Arc::new(doc)))
        .fallback(error::unknown_route)
        // Surfaces set their own; this covers a route added outside any surface.
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(state.cfg.server.body_limit_bytes))
        .layer(middleware::from_fn_with_state(
            std::time::Duration::from_secs(state.cfg.server.request_timeout_secs),
            serve::request_timeout,
        ))
        .layer(middleware::from_fn(error::render_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

/// Every route with its OpenAPI description.
fn described_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(ops::routes())
        .merge(api::routes())
}

/// The OpenAPI document of this build, as `GET /openapi.json` serves it.
pub fn openapi_document() -> serde_json::Value {
    let mut doc = described_routes().into_openapi();
    openapi_rules::apply(&mut doc);
    serde_json::to_value(doc).expect("the OpenAPI document serializes")
}
