//! Company information of the authenticated caller, on both AIRUDDER auth families:
//! `POST /api/v1/company/info` (获取公司信息, signed) and `GET /service/cloud/company/info`
//! (token). Paths are Tiller's choice (docs/compat.md); integrators use them to check
//! their credentials before making real calls.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tiller_core::tenant::Tenant;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        auth::{Signed, TokenCaller},
        envelope::{Cloud, CloudError, V1Error, V1},
        ApiError,
    },
    state::AppState,
};

/// The signed route, on the /api/v1 surface.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_company_signed))
}

/// The token route, on the /service/cloud surface.
pub fn cloud_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_company_by_token))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyOut {
    pub tenant_id: i64,
    pub company: String,
    pub name: String,
}

impl From<&Tenant> for CompanyOut {
    fn from(t: &Tenant) -> Self {
        Self {
            tenant_id: t.id.0,
            company: t.company.clone(),
            name: t.name.clone(),
        }
    }
}

/// The request body: an empty JSON object (kept as a type so unknown shapes are still JSON-checked).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompanyInfoIn {}

/// 获取公司信息: the signing tenant's company.
#[utoipa::path(
    post,
    path = "/api/v1/company/info",
    tag = "auth",
    request_body = CompanyInfoIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<CompanyOut>), (status = 401, body = V1Error))
)]
async fn get_company_signed(req: Signed<CompanyInfoIn>) -> V1<CompanyOut> {
    V1::ok(&req.request_id, CompanyOut::from(&req.tenant))
}

/// The token holder's company.
#[utoipa::path(
    get,
    path = "/service/cloud/company/info",
    tag = "auth",
    security(("token" = [])),
    responses((status = 200, body = Cloud<CompanyOut>), (status = 401, body = CloudError))
)]
async fn get_company_by_token(
    State(app): State<AppState>,
    caller: TokenCaller,
) -> Result<Cloud<CompanyOut>, ApiError> {
    let tenant = app.tenants.get(caller.tenant).await?;
    Ok(Cloud::ok(CompanyOut::from(&tenant)))
}
