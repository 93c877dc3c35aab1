//! The compatibility surfaces, one module each; wire types live with their surface.

pub mod airudder;
pub mod nxlink;

use axum::Router;

use crate::state::AppState;

pub fn routes(cfg: &crate::config::Config) -> Router<AppState> {
    Router::new()
        .merge(airudder::routes(cfg))
        .merge(nxlink::routes())
}
