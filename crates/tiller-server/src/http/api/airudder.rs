//! The AIRUDDER-compatible API: `/service/cloud/*` (token auth) and `/api/v1/*` (signed).

mod auth;
mod channel_messages;
mod company;
mod files;
mod messages;
mod sessions;
mod wire;

use axum::Router;

use crate::state::AppState;

pub fn routes(cfg: &crate::config::Config) -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(company::routes())
        .merge(channel_messages::routes())
        .merge(messages::routes())
        .merge(sessions::routes())
        .merge(files::routes(cfg.files.max_upload_bytes))
}
