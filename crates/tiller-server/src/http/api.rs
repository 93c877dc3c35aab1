//! The compatibility surfaces, one module each; wire types live with their surface.

pub mod airudder;
pub mod nxlink;
pub mod webhooks;
pub mod whatsapp;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(airudder::routes())
        .merge(nxlink::routes())
        .merge(webhooks::routes())
        .merge(whatsapp::routes())
}
