//! The nxlink-compatible API (`/saas/*`), signed with accessKey/ts/bizType/action/sign.

mod tenant;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().merge(tenant::routes())
}
