//! Messages of a session: send regular message (发送普通消息, spec §3.6), *query message
//! list (spec §3.5), query message list, and mark user message as read.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tiller_core::{
    conversations::{CallId, MessageQuery, SortOrder, StoredMessage},
    messages::{listed, Message, ReplyShape},
    TenantId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{self, AgentMessage, MessageDoc, SendMessageIn};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SendMessageOut {
    pub msg_id: String,
}

impl From<StoredMessage> for SendMessageOut {
    fn from(stored: StoredMessage) -> Self {
        Self {
            msg_id: stored.message.msg_id,
        }
    }
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
    let msg = AgentMessage::try_from(req.body)?;
    let conversations = &app.conversations;
    let call_id = conversations
        .resolve_session(req.tenant.id, &msg.session)
        .await?;
    let seat_id = msg.seat_id.as_deref();
    let stored = conversations
        .send(&req.tenant, &call_id, msg.sender, msg.content, seat_id)
        .await?;
    Ok(V1::ok(&req.request_id, stored.into()))
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
