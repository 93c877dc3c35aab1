//! The AIRUDDER-compatible API: `/service/cloud/*` (token auth) and `/api/v1/*` (signed).

mod auth;
mod company;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().merge(auth::routes()).merge(company::routes())
}
