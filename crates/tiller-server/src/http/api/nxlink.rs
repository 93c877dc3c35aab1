//! The nxlink-compatible API (`/saas/*`), signed with accessKey/ts/bizType/action/sign.

mod chat_records;
mod records_wire;
mod tenant;

use utoipa_axum::router::OpenApiRouter;

use crate::{http::surface::Envelope, state::AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    Envelope::Nxlink.surface(
        OpenApiRouter::new()
            .merge(tenant::routes())
            .merge(chat_records::routes()),
    )
}
