//! `GET /saas/openapi/chat/records` — nxlink chat records (`nxlink-api.md` §4), read from
//! the same stored messages the AIRUDDER APIs serve. Envelope (a): list fields at the top
//! level, `message: null` on success.

use axum::{
    extract::{Query, State},
    Extension, Json,
};
use serde::Serialize;
use tiller_core::conversations::{ChatRecordPage, ChatRecordQuery, ChatRecordRequest};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::records_wire::{ChatRecordOut, ChatRecordsIn};
use crate::{
    http::{
        auth::{NxSigned, NX_WHATSAPP_MT},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_chat_records))
        .route_layer(Extension(NX_WHATSAPP_MT))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatRecordsOut {
    pub code: i64,
    pub message: Option<String>,
    #[serde(rename = "traceId")]
    pub trace_id: String,
    pub total: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub list: Vec<ChatRecordOut>,
}

impl ChatRecordsOut {
    fn page(trace_id: String, q: &ChatRecordQuery, page: &ChatRecordPage) -> Self {
        Self {
            code: 0,
            message: None,
            trace_id,
            total: page.total,
            page_number: q.page,
            page_size: q.page_size,
            list: page.records.iter().map(ChatRecordOut::new).collect(),
        }
    }
}

/// 通过API获取聊天记录 / Chat records (bizType 2, action mt).
#[utoipa::path(
    get,
    path = "/saas/openapi/chat/records",
    tag = "nxlink",
    params(
        ("tenant_id" = i64, Query, description = "The caller's tenant id (21058 when missing)"),
        ("appkey" = String, Query, description = "The tenant's app_key (21059 when missing, 22016 when wrong)"),
        ("page_number" = u32, Query, description = "1-based"),
        ("page_size" = u32, Query, description = "1 to 100"),
        ("channel" = Option<u32>, Query, description = "2 (WhatsApp) or left out for every channel"),
        ("business_channel_id" = Option<String>, Query, description = "The session's channel_id"),
        ("customer_id" = Option<String>, Query, description = "The user's id"),
        ("saas_conversation_id" = Option<String>, Query, description = "The session's call_id"),
        ("agent_account" = Option<String>, Query, description = "The agent's e-mail in the seat directory (any case), else taken for its seat_id"),
        ("start_time" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss, UTC"),
        ("end_time" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss, UTC"),
        ("order_by" = Option<String>, Query, description = "asc or desc (default)"),
    ),
    security(("nxlink_sign" = [])),
    responses((status = 200, description = "`code` 0 with the page, or an nxlink error", body = ChatRecordsOut))
)]
async fn list_chat_records(
    State(app): State<AppState>,
    Query(params): Query<ChatRecordsIn>,
    req: NxSigned,
) -> Result<Json<ChatRecordsOut>, ApiError> {
    params.check_caller(&req.tenant)?;
    let asked = ChatRecordRequest::try_from(params)?;
    let page = app
        .conversations
        .chat_records(req.tenant.id, &asked)
        .await?;
    Ok(Json(ChatRecordsOut::page(
        req.request_id.0,
        &asked.query,
        &page,
    )))
}
