//! The HTTP layer: router, middleware, extractors and the compatibility surfaces.

pub mod api;
pub mod auth;
pub mod body;
pub mod envelope;
pub mod error;
pub mod observe;
pub mod ops;

use axum::{extract::DefaultBodyLimit, middleware, Router};

pub use error::{ApiError, ErrorKind};

use crate::state::AppState;

/// The id of one request: accepted from `x-request-id` when sane, otherwise 32 fresh
/// hex characters. It is the `/api/v1` `request_id` and the nxlink `traceId`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Every route, with the middleware stack. Outermost first: observe (request id, span,
/// metrics, access log) → render_errors (envelopes) → body limit → routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ops::routes())
        .merge(api::routes(&state.cfg))
        .fallback(error::unknown_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(state.cfg.server.body_limit_bytes))
        .layer(middleware::from_fn(error::render_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
