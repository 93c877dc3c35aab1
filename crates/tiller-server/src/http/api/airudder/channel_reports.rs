//! The channel's own reports (Chatbot folder, CN items), for an integrator that carries the
//! channel: what only the channel can see. Tiller's design, written down in
//! `docs/compat.md` ("The channel's own reports"):
//! - `POST /api/v1/channel/message/status` — 渠道发送的消息状态变更事件上报;
//! - `POST /api/v1/channel/message/report` — 渠道发送的消息事件上报;
//! - `POST /api/v1/channel/user/message/report` — 用户发送的消息事件上报.

use axum::extract::State;
use serde::Serialize;
use tiller_core::{
    conversations::{CallId, ReportedStatus, StoredMessage},
    messages::MessageStatus,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    channel_messages::UserMessagesOut,
    report_wire::{ChannelMessages, ChannelMessagesIn, StatusReportIn, StatusReports},
    wire::{UserMessages, UserMessagesIn},
};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report_message_statuses))
        .routes(routes!(report_channel_messages))
        .routes(routes!(report_user_messages))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusReportOut {
    /// How many messages changed status (each change is reported as `message.status`).
    pub updated: u64,
    /// Every message named, in the order first named, with its status now.
    pub messages: Vec<MessageStatusOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageStatusOut {
    pub msg_id: String,
    /// `sent`, `delivery`, `read` or `failed`: the report's status, or the one the message
    /// kept when the report would have moved it backwards.
    pub status: Option<&'static str>,
    /// The report moved it.
    pub changed: bool,
}

impl From<Vec<ReportedStatus>> for StatusReportOut {
    fn from(statuses: Vec<ReportedStatus>) -> Self {
        let messages: Vec<MessageStatusOut> = statuses
            .into_iter()
            .map(|s| MessageStatusOut {
                msg_id: s.msg_id,
                status: s.status.map(MessageStatus::as_str),
                changed: s.changed,
            })
            .collect();
        Self {
            updated: messages.iter().filter(|m| m.changed).count() as u64,
            messages,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelMessagesOut {
    pub call_id: String,
    /// The stored ids, in the order the messages were given.
    pub msg_ids: Vec<String>,
}

impl From<(CallId, Vec<StoredMessage>)> for ChannelMessagesOut {
    fn from((call_id, stored): (CallId, Vec<StoredMessage>)) -> Self {
        Self {
            call_id: call_id.into(),
            msg_ids: stored.into_iter().map(|m| m.message.msg_id).collect(),
        }
    }
}

/// 渠道发送的消息状态变更事件上报 / Channel message status change report: the status a message
/// reached on the channel. Statuses only move forward (`sent` → `failed` → `delivery` →
/// `read`); each real change fires `message.status`, a backwards one changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/channel/message/status",
    tag = "chat",
    request_body = StatusReportIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<StatusReportOut>),
        (status = 400, description = "A status other than delivery, read or failed, or a msg_id that names no message of the session sent to the user; nothing changed", body = V1Error),
        (status = 401, body = V1Error),
        (status = 404, description = "Unknown call_id", body = V1Error),
    )
)]
async fn report_message_statuses(
    State(app): State<AppState>,
    req: Signed<StatusReportIn>,
) -> Result<V1<StatusReportOut>, ApiError> {
    let report = StatusReports::try_from(req.body)?;
    let statuses = app
        .conversations
        .report_statuses(&req.tenant, &report.call_id, report.reports)
        .await?;
    Ok(V1::ok(&req.request_id, statuses.into()))
}

/// 渠道发送的消息事件上报 / Channel sent message report: messages the channel sent on its own,
/// recorded in an open session without a `message.send` callback.
#[utoipa::path(
    post,
    path = "/api/v1/channel/message/report",
    tag = "chat",
    request_body = ChannelMessagesIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<ChannelMessagesOut>),
        (status = 400, body = V1Error),
        (status = 401, body = V1Error),
        (status = 404, description = "Unknown call_id", body = V1Error),
        (status = 409, description = "The session is closed, or a msg_id belongs to another session", body = V1Error),
    )
)]
async fn report_channel_messages(
    State(app): State<AppState>,
    req: Signed<ChannelMessagesIn>,
) -> Result<V1<ChannelMessagesOut>, ApiError> {
    let sent = ChannelMessages::try_from(req.body)?;
    let conversations = &app.conversations;
    let call_id = conversations
        .resolve_session(req.tenant.id, &sent.session)
        .await?;
    let seat_id = sent.seat_id.as_deref();
    let stored = conversations
        .record_channel_messages(&req.tenant, &call_id, sent.sender, seat_id, sent.messages)
        .await?;
    Ok(V1::ok(&req.request_id, (call_id, stored).into()))
}

/// 用户发送的消息事件上报 / User sent message report: user messages the channel has handled
/// itself, recorded (opening the session like user send message) without a robot turn and
/// without `message.receive`.
#[utoipa::path(
    post,
    path = "/api/v1/channel/user/message/report",
    tag = "chat",
    request_body = UserMessagesIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<UserMessagesOut>),
        (status = 400, body = V1Error),
        (status = 401, body = V1Error),
        (status = 409, description = "A msg_id belongs to another session", body = V1Error),
    )
)]
async fn report_user_messages(
    State(app): State<AppState>,
    req: Signed<UserMessagesIn>,
) -> Result<V1<UserMessagesOut>, ApiError> {
    let new = UserMessages::try_from(req.body)?;
    let inbound = app
        .conversations
        .record_user_messages(&req.tenant, new.session, new.messages)
        .await?;
    Ok(V1::ok(&req.request_id, inbound.into()))
}
