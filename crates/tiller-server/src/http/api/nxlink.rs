//! The nxlink-compatible API (`/saas/*`), signed with accessKey/ts/bizType/action/sign.

mod chat_records;
mod records_wire;
mod tenant;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(tenant::routes())
        .merge(chat_records::routes())
}
