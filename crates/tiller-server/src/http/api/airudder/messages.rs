//! Messages of a session: send regular message (发送普通消息, spec §3.6), *query message
//! list (spec §3.5), query message list, and mark user message as read.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiller_core::{
    conversations::{AgentSender, CallId, MessageQuery, SortOrder, StoredMessage},
    messages::{listed, Message, ReplyShape},
    TenantId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{self, MessageDoc, UserIn};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params::{self, page_size},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(list_recent_messages))
        .routes(routes!(list_messages))
        .routes(routes!(mark_messages_read))
}

#[derive(Debug, Deserialize, ToSchema)]
/// `channel` (e.g. `WhatsApp`) is accepted and not needed: the session knows its channel.
pub struct SendMessageIn {
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub user: Option<UserIn>,
    #[serde(default)]
    pub call_id: Option<String>,
    /// `agent` or `agent_system`.
    pub sender_type: String,
    /// Exactly one: text (1–2096 characters), image, video, audio, file, location or interactive.
    #[schema(value_type = Vec<Object>, max_items = 100)]
    #[serde(deserialize_with = "params::messages")]
    pub messages: Vec<Value>,
    /// The agent's seat the message is stored with (Tiller's addition); the seat holding
    /// the session when left out.
    #[serde(default)]
    pub seat_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendMessageOut {
    pub msg_id: String,
}

/// 发送普通消息 / Send regular message: one agent message into an open session.
#[utoipa::path(
    post,
    path = "/api/v1/session/message/send",
    tag = "chat",
    request_body = SendMessageIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<SendMessageOut>),
        (status = 400, body = V1Error),
        (status = 404, description = "Unknown call_id", body = V1Error),
        (status = 409, description = "The session is closed", body = V1Error),
    )
)]
async fn send_message(
    State(app): State<AppState>,
    req: Signed<SendMessageIn>,
) -> Result<V1<SendMessageOut>, ApiError> {
    let body = req.body;
    let sender = match body.sender_type.as_str() {
        "agent" => AgentSender::Agent,
        "agent_system" => AgentSender::AgentSystem,
        other => {
            return Err(ApiError::bad_request(format!(
                "sender_type must be agent or agent_system, not {other:?}"
            )))
        }
    };
    let [item] = <[Value; 1]>::try_from(body.messages).map_err(|items| {
        ApiError::bad_request(format!(
            "messages must hold exactly one message, not {}",
            items.len()
        ))
    })?;
    let content = wire::content(item, 0)?;
    let call_id = match (
        body.call_id.as_deref(),
        body.channel_id.as_deref(),
        body.user.as_ref(),
    ) {
        (Some(id), _, _) if !id.is_empty() => wire::call_id(id)?,
        (_, Some(channel_id), Some(user)) => {
            app.conversations
                .latest_session(req.tenant.id, channel_id, &user.id)
                .await?
                .call_id
        }
        _ => {
            return Err(ApiError::bad_request(
                "give call_id, or channel_id and user.id",
            ))
        }
    };
    let stored = app
        .conversations
        .send(
            &req.tenant,
            &call_id,
            sender,
            content,
            body.seat_id.as_deref(),
        )
        .await?;
    Ok(V1::ok(
        &req.request_id,
        SendMessageOut {
            msg_id: stored.message.msg_id,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListRecentMessagesIn {
    pub call_id: String,
    /// Continue after this message; `""` starts from the newest.
    #[serde(default)]
    pub last_msg_id: String,
    pub size: i64,
    /// Retrieval mode; `single` is the only documented value.
    #[serde(default, rename = "type")]
    pub mode: Option<String>,
}

/// *Query message list: newest first, the last 24 hours only.
#[utoipa::path(
    post,
    path = "/api/v1/session/messages",
    tag = "chat",
    request_body = ListRecentMessagesIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<Vec<MessageDoc>>), (status = 400, body = V1Error), (status = 404, body = V1Error))
)]
async fn list_recent_messages(
    State(app): State<AppState>,
    req: Signed<ListRecentMessagesIn>,
) -> Result<V1<Vec<Message>>, ApiError> {
    let b = req.body;
    if let Some(mode) = b
        .mode
        .as_deref()
        .filter(|m| !m.is_empty() && *m != "single")
    {
        return Err(ApiError::bad_request(format!(
            "type must be \"single\", not {mode:?}"
        )));
    }
    let q = message_query(&b.call_id, &b.last_msg_id, b.size, SortOrder::NewestFirst)?;
    page(&app, req.tenant.id, q, true, &req.request_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListMessagesIn {
    pub call_id: String,
    #[serde(default)]
    pub last_msg_id: String,
    pub size: i64,
    /// `desc` (newest first, the default) or `asc`.
    #[serde(default)]
    pub order: Option<String>,
}

/// Query message list: the whole history, in either order.
#[utoipa::path(
    post,
    path = "/api/v1/session/message/list",
    tag = "chat",
    request_body = ListMessagesIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<Vec<MessageDoc>>), (status = 400, body = V1Error), (status = 404, body = V1Error))
)]
async fn list_messages(
    State(app): State<AppState>,
    req: Signed<ListMessagesIn>,
) -> Result<V1<Vec<Message>>, ApiError> {
    let b = req.body;
    let order = match b.order.as_deref() {
        None | Some("" | "desc") => SortOrder::NewestFirst,
        Some("asc") => SortOrder::OldestFirst,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order must be asc or desc, not {other:?}"
            )))
        }
    };
    let q = message_query(&b.call_id, &b.last_msg_id, b.size, order)?;
    page(&app, req.tenant.id, q, false, &req.request_id).await
}

fn message_query(
    call_id: &str,
    last_msg_id: &str,
    size: i64,
    order: SortOrder,
) -> Result<MessageQuery, ApiError> {
    let size = page_size(size)?;
    Ok(MessageQuery {
        call_id: wire::call_id(call_id)?,
        after_msg_id: Some(last_msg_id.to_owned()).filter(|id| !id.is_empty()),
        since: None,
        size,
        order,
    })
}

async fn page(
    app: &AppState,
    tenant: TenantId,
    q: MessageQuery,
    recent_only: bool,
    request_id: &crate::http::RequestId,
) -> Result<V1<Vec<Message>>, ApiError> {
    let stored = app.conversations.messages(tenant, q, recent_only).await?;
    Ok(V1::ok(
        request_id,
        stored
            .into_iter()
            .map(|m: StoredMessage| listed(&m.message, ReplyShape::Flat))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkReadIn {
    pub call_id: String,
    /// The user messages to mark (at most 1000); every unread one when left out.
    #[serde(default, deserialize_with = "params::msg_ids")]
    #[schema(max_items = 1000)]
    pub msg_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkReadOut {
    /// How many messages changed to `read`.
    pub updated: u64,
}

/// 将用户消息标记为已读 / Mark user message as read.
#[utoipa::path(
    post,
    path = "/api/v1/session/message/read",
    tag = "chat",
    request_body = MarkReadIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<MarkReadOut>), (status = 404, body = V1Error))
)]
async fn mark_messages_read(
    State(app): State<AppState>,
    req: Signed<MarkReadIn>,
) -> Result<V1<MarkReadOut>, ApiError> {
    let call_id: CallId = wire::call_id(&req.body.call_id)?;
    let updated = app
        .conversations
        .mark_read(req.tenant.id, &call_id, req.body.msg_ids.as_deref())
        .await?;
    Ok(V1::ok(&req.request_id, MarkReadOut { updated }))
}
