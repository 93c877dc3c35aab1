//! Company information of the authenticated caller, on both AIRUDDER auth families:
//! `POST /api/v1/company/info` (获取公司信息, signed) and `GET /service/cloud/company/info`
//! (token). Paths are Tiller's choice (docs/compat.md); integrators use them to check
//! their credentials before making real calls.

use axum::{
    extract::State,
    routing::{get, post},
    Router,
};
use serde::{Deserialize, Serialize};
use tiller_core::tenant::Tenant;

use crate::{
    http::{
        auth::{Signed, TokenCaller},
        envelope::{Cloud, V1},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/company/info", post(get_company_signed))
        .route("/service/cloud/company/info", get(get_company_by_token))
}

#[derive(Debug, Serialize)]
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
#[derive(Debug, Deserialize)]
pub struct CompanyInfoIn {}

async fn get_company_signed(req: Signed<CompanyInfoIn>) -> V1<CompanyOut> {
    V1::ok(&req.request_id, CompanyOut::from(&req.tenant))
}

async fn get_company_by_token(
    State(app): State<AppState>,
    caller: TokenCaller,
) -> Result<Cloud<CompanyOut>, ApiError> {
    let tenant = app.store.tenant(caller.tenant).await?;
    Ok(Cloud::ok(CompanyOut::from(&tenant)))
}
