//! The compatibility surfaces, one module each; wire types live with their surface.

pub mod airudder;
pub mod nxlink;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(airudder::routes())
        .merge(nxlink::routes())
}
