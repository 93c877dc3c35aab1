//! `GET /saas/openapi/chat/records` — nxlink chat records (`nxlink-api.md` §4), read from
//! the same stored messages the AIRUDDER APIs serve. Envelope (a): list fields at the top
//! level, `message: null` on success.

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    Extension, Json,
};
use chrono::{NaiveDateTime, TimeZone as _, Utc};
use serde::Serialize;
use tiller_core::conversations::{CallId, ChatRecordQuery, SortOrder};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::records_wire::{ChatRecordOut, TIME_FORMAT};
use crate::{
    http::{
        auth::{NxSigned, NX_WHATSAPP_MT},
        ApiError, ErrorKind,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_chat_records))
        .route_layer(Extension(NX_WHATSAPP_MT))
}

/// Largest `page_size` nxlink allows.
pub const MAX_PAGE_SIZE: u32 = 100;

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

fn param_error(code: i64, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message).nx_code(code)
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
        ("agent_account" = Option<String>, Query, description = "The agent's seat_id"),
        ("start_time" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss, UTC"),
        ("end_time" = Option<String>, Query, description = "yyyy-MM-dd HH:mm:ss, UTC"),
        ("order_by" = Option<String>, Query, description = "asc or desc (default)"),
    ),
    security(("nxlink_sign" = [])),
    responses((status = 200, description = "`code` 0 with the page, or an nxlink error", body = ChatRecordsOut))
)]
async fn list_chat_records(
    State(app): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    req: NxSigned,
) -> Result<Json<ChatRecordsOut>, ApiError> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let tenant_id = get("tenant_id").ok_or_else(|| param_error(21058, "tenant_id is required"))?;
    let appkey = get("appkey").ok_or_else(|| param_error(21059, "appkey is required"))?;
    if tenant_id.parse::<i64>().ok() != Some(req.tenant.id.0) {
        return Err(ApiError::unauthorized(
            "Insufficient permissions: tenant_id is not this accessKey's tenant",
        )
        .nx_code(1005));
    }
    if !tiller_core::tenant::app_key_matches(&req.tenant.app_key, appkey) {
        return Err(param_error(22016, "no application with this appkey"));
    }
    let number = |name: &str| -> Result<u32, ApiError> {
        get(name)
            .ok_or_else(|| param_error(22072, format!("{name} is required")))?
            .parse::<u32>()
            .map_err(|_| param_error(22072, format!("{name} must be a positive integer")))
    };
    let page_number = number("page_number")?;
    let page_size = number("page_size")?;
    if page_number == 0 {
        return Err(param_error(22072, "page_number starts at 1"));
    }
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(param_error(
            22072,
            format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let channels = match get("channel") {
        None => Vec::new(),
        Some("2") => vec!["whatsapp".to_owned()],
        Some(other) => {
            return Err(param_error(
                22072,
                format!("channel must be 2 (WhatsApp), not {other}"),
            ))
        }
    };
    let time = |name: &str| {
        get(name)
            .map(|raw| {
                NaiveDateTime::parse_from_str(raw, TIME_FORMAT)
                    .map(|t| Utc.from_utc_datetime(&t))
                    .map_err(|_| param_error(22072, format!("{name} must be yyyy-MM-dd HH:mm:ss")))
            })
            .transpose()
    };
    let order = match get("order_by") {
        None | Some("desc") => SortOrder::NewestFirst,
        Some("asc") => SortOrder::OldestFirst,
        Some(other) => {
            return Err(param_error(
                22072,
                format!("order_by must be asc or desc, not {other}"),
            ))
        }
    };
    let call_id = get("saas_conversation_id")
        .map(CallId::parse)
        .transpose()
        .map_err(|e| param_error(22072, format!("saas_conversation_id: {e}")))?;
    let agent_account = get("agent_account");
    let q = ChatRecordQuery {
        channels,
        channel_id: get("business_channel_id").map(str::to_owned),
        user_id: get("customer_id").map(str::to_owned),
        call_id,
        seat_id: agent_account.map(str::to_owned),
        from: time("start_time")?,
        to: time("end_time")?,
        order,
        page: page_number,
        page_size,
    };
    let (total, records) = app.store.chat_records(req.tenant.id, &q).await?;
    Ok(Json(ChatRecordsOut {
        code: 0,
        message: None,
        trace_id: req.request_id.0,
        total,
        page_number,
        page_size,
        list: records
            .iter()
            .map(|r| ChatRecordOut::new(r, agent_account))
            .collect(),
    }))
}
