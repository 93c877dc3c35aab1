//! Sessions: query conversation list (查询会话列表), end session (结束会话), report after
//! session ends (会话结束后上报) and the agent transfer result (转人工结果) that completes a
//! robot's hand-off. Paths and fields are Tiller's design in the documented conventions
//! (docs/compat.md): the upstream pages are not public.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value};
use tiller_core::conversations::{EndReason, SessionQuery, SessionState};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{self, SessionOut, TransferResult, TransferResultIn};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params::{page_size, unix_seconds},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(report_session))
        .routes(routes!(transfer_result))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListSessionsIn {
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// `bot`, `pending_agent`, `agent` or `closed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Sessions started at or after this unix second.
    #[serde(default)]
    pub start_time: Option<i64>,
    /// Sessions started at or before this unix second.
    #[serde(default)]
    pub end_time: Option<i64>,
    /// Cursor: continue after this session; `""` starts from the most recent.
    #[serde(default)]
    pub last_call_id: String,
    pub size: i64,
}

/// 查询会话列表 / Query conversation list: most recently started first.
#[utoipa::path(
    post,
    path = "/api/v1/session/list",
    tag = "chat",
    request_body = ListSessionsIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<Vec<SessionOut>>), (status = 400, body = V1Error))
)]
async fn list_sessions(
    State(app): State<AppState>,
    req: Signed<ListSessionsIn>,
) -> Result<V1<Vec<SessionOut>>, ApiError> {
    let b = req.body;
    let size = page_size(b.size)?;
    let state = b
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            SessionState::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be bot, pending_agent, agent or closed, not {s:?}"
                ))
            })
        })
        .transpose()?;
    let q = SessionQuery {
        channel: b.channel.filter(|c| !c.is_empty()),
        channel_id: b.channel_id.filter(|c| !c.is_empty()),
        user_id: b.user_id.filter(|c| !c.is_empty()),
        state,
        started_from: unix_seconds(b.start_time, "start_time")?,
        started_to: unix_seconds(b.end_time, "end_time")?,
        after_call_id: Some(b.last_call_id)
            .filter(|c| !c.is_empty())
            .map(|c| wire::call_id(&c))
            .transpose()?,
        size,
    };
    let sessions = app.conversations.sessions(req.tenant.id, &q).await?;
    Ok(V1::ok(
        &req.request_id,
        sessions.into_iter().map(SessionOut::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EndSessionIn {
    pub call_id: String,
    /// `session_end_reason`; `agent` when left out (the integrator's side ends it).
    #[serde(default)]
    pub reason: Option<String>,
}

/// 结束会话 / End session: closes it with a `conversation.close` event.
#[utoipa::path(
    post,
    path = "/api/v1/session/end",
    tag = "chat",
    request_body = EndSessionIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<SessionOut>),
        (status = 404, body = V1Error),
        (status = 409, description = "Already closed", body = V1Error),
    )
)]
async fn end_session(
    State(app): State<AppState>,
    req: Signed<EndSessionIn>,
) -> Result<V1<SessionOut>, ApiError> {
    let reason = match req.body.reason.as_deref() {
        None | Some("") => EndReason::Agent,
        Some(r) => EndReason::parse(r).ok_or_else(|| {
            ApiError::bad_request(format!(
                "reason must be robot, agent, error, expire or user, not {r:?}"
            ))
        })?,
    };
    let call_id = wire::call_id(&req.body.call_id)?;
    let session = app
        .conversations
        .close(&req.tenant, &call_id, reason)
        .await?;
    Ok(V1::ok(&req.request_id, session.into()))
}

/// `{"call_id": "…", …}`: every other field is the report, stored as given.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportIn {
    pub call_id: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub report: Map<String, Value>,
}

/// 会话结束后上报 / Report after session ends: stores the integrator's report on a closed session.
#[utoipa::path(
    post,
    path = "/api/v1/session/report",
    tag = "chat",
    request_body = ReportIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<SessionOut>),
        (status = 404, body = V1Error),
        (status = 409, description = "The session is still open", body = V1Error),
    )
)]
async fn report_session(
    State(app): State<AppState>,
    req: Signed<ReportIn>,
) -> Result<V1<SessionOut>, ApiError> {
    if req.body.report.is_empty() {
        return Err(ApiError::bad_request(
            "the report is empty: send fields besides call_id",
        ));
    }
    let call_id = wire::call_id(&req.body.call_id)?;
    let session = app
        .conversations
        .report(req.tenant.id, &call_id, &Value::Object(req.body.report))
        .await?;
    Ok(V1::ok(&req.request_id, session.into()))
}

/// 转人工结果 / Agent transfer result: accepted, the agent (`seat_id`) takes the session
/// over (`conversation.take_over`); refused or timed out, the robot goes on as its flow
/// says, or the session ends.
#[utoipa::path(
    post,
    path = "/api/v1/session/transfer/result",
    tag = "chat",
    request_body = TransferResultIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<SessionOut>),
        (status = 400, body = V1Error),
        (status = 404, body = V1Error),
        (status = 409, description = "The session is not waiting for an agent", body = V1Error),
    )
)]
async fn transfer_result(
    State(app): State<AppState>,
    req: Signed<TransferResultIn>,
) -> Result<V1<SessionOut>, ApiError> {
    let result = TransferResult::try_from(req.body)?;
    let session = app
        .robots
        .transfer_result(&req.tenant, &result.call_id, &result.answer)
        .await?;
    Ok(V1::ok(&req.request_id, session.into()))
}
