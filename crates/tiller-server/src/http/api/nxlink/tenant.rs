//! `GET /saas/openapi/tenant/info` — the caller's own tenant. nxlink documents no such
//! route; Tiller adds it (docs/compat.md) so integrators can check a signature setup, and
//! learn the `tenant_id` that the chat-records API takes, without side effects.

use axum::{routing::get, Extension, Router};
use serde::Serialize;

use crate::{
    http::{
        auth::{NxSigned, NX_WHATSAPP_MT},
        envelope::Nx,
    },
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/saas/openapi/tenant/info", get(get_tenant_info))
        .route_layer(Extension(NX_WHATSAPP_MT))
}

#[derive(Debug, Serialize)]
pub struct TenantInfoOut {
    /// A string, as nxlink writes `tenant_id` in its records.
    pub tenant_id: String,
    pub company: String,
    pub name: String,
}

async fn get_tenant_info(req: NxSigned) -> Nx<TenantInfoOut> {
    let t = &req.tenant;
    Nx::ok(
        &req.request_id,
        TenantInfoOut {
            tenant_id: t.id.to_string(),
            company: t.company.clone(),
            name: t.name.clone(),
        },
    )
}
