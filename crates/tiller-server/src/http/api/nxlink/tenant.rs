//! `GET /saas/openapi/tenant/info` — the caller's own tenant. nxlink documents no such
//! route; Tiller adds it (docs/compat.md) so integrators can check a signature setup, and
//! learn the `tenant_id` that the chat-records API takes, without side effects.

use axum::Extension;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        auth::{NxSigned, NX_WHATSAPP_MT},
        envelope::Nx,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_tenant_info))
        .route_layer(Extension(NX_WHATSAPP_MT))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantInfoOut {
    /// A string, as nxlink writes `tenant_id` in its records.
    pub tenant_id: String,
    pub company: String,
    pub name: String,
}

/// The signing tenant (bizType 2, action mt).
#[utoipa::path(
    get,
    path = "/saas/openapi/tenant/info",
    tag = "nxlink",
    security(("nxlink_sign" = [])),
    responses((status = 200, description = "`code` 0 on success, else an nxlink error code", body = Nx<TenantInfoOut>))
)]
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
