//! Tiller's own webhook management API (`/api/v1/webhook/...`, signed like the chat API):
//! endpoints, their health, the event log with attempts, and replay. The same operations
//! back `tiller webhook ...` on the command line, with the same JSON shapes.

mod endpoints;
mod events;

use utoipa_axum::router::OpenApiRouter;

use crate::{http::surface::Envelope, state::AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    Envelope::V1.surface(
        OpenApiRouter::new()
            .merge(endpoints::routes())
            .merge(events::routes()),
    )
}
