//! The compatibility surfaces, one module each; wire types live with their surface.

pub mod airudder;
pub mod nxlink;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn routes(cfg: &crate::config::Config) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(airudder::routes(cfg))
        .merge(nxlink::routes())
        .merge(webhooks::routes())
}
