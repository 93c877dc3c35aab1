//! The AIRUDDER-compatible API: `/service/cloud/*` (token auth) and `/api/v1/*` (signed).

mod auth;
mod channel_messages;
mod company;
mod files;
mod messages;
mod robots;
mod sessions;
mod wire;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(company::routes())
        .merge(channel_messages::routes())
        .merge(messages::routes())
        .merge(sessions::routes())
        .merge(robots::routes())
        .merge(files::routes())
}
