//! The nxlink-compatible API (`/saas/*`), signed with accessKey/ts/bizType/action/sign.

mod chat_records;
mod records_wire;
mod tenant;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenant::routes())
        .merge(chat_records::routes())
}
