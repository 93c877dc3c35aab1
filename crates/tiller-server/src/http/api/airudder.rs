//! The AIRUDDER-compatible API: `/service/cloud/*` (token auth) and `/api/v1/*` (signed).

mod auth;
mod channel_messages;
mod channel_reports;
mod company;
mod files;
mod messages;
mod report_wire;
mod robots;
mod seat_wire;
mod seats;
mod sessions;
mod wire;

use utoipa_axum::router::OpenApiRouter;

use crate::{http::surface::Envelope, state::AppState};

/// Two surfaces, one envelope each: the token family and the signed chat APIs (with the
/// file links they hand out).
pub fn routes() -> OpenApiRouter<AppState> {
    let cloud = OpenApiRouter::new()
        .merge(auth::routes())
        .merge(company::cloud_routes());
    let v1 = OpenApiRouter::new()
        .merge(company::routes())
        .merge(channel_messages::routes())
        .merge(channel_reports::routes())
        .merge(messages::routes())
        .merge(sessions::routes())
        .merge(robots::routes())
        .merge(seats::routes())
        .merge(files::routes());
    Envelope::Cloud
        .surface(cloud)
        .merge(Envelope::V1.surface(v1))
}
