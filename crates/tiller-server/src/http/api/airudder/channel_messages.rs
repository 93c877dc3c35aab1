//! `POST /api/v1/channel/{channel}/message` — user send message (用户发送消息), in the shape
//! of the documented Huawei twin (spec §3.1): the integrator forwards what a user typed or
//! tapped; Tiller opens the session on first contact, stores every message, then hands
//! them to the conversation engine. Answers only once the messages are committed.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiller_core::conversations::NewSession;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{self, UserIn};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params::{self, PathParams},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_user_messages))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserMessagesIn {
    pub call_id: String,
    /// Defaults to the path's channel; when given it must name the same channel.
    #[serde(default)]
    pub channel: Option<String>,
    pub channel_id: String,
    pub user: UserIn,
    /// Flattened contents (`{"type":"text","text":"hi"}`, …), each optionally with the
    /// integrator's own `msg_id` (retries are then idempotent) and `timestamp`.
    #[schema(value_type = Vec<Object>, max_items = 100)]
    #[serde(deserialize_with = "params::messages")]
    pub messages: Vec<Value>,
    /// The robot to answer a new session (Tiller's addition); the tenant's default robot
    /// when left out.
    #[serde(default)]
    pub robot_id: Option<String>,
    /// The variables to start a new (or reopened) session with, as a workflow uploads them
    /// (Tiller's addition); `session.end` carries them as `variables`. Ignored on a session
    /// that is already open.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub variables: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserMessagesOut {
    pub call_id: String,
    /// The stored ids, in the order the messages were given.
    pub msg_ids: Vec<String>,
}

/// 用户发送消息 / User send message: stores the user's messages (opening the session on
/// first contact) and answers once they are committed.
#[utoipa::path(
    post,
    path = "/api/v1/channel/{channel}/message",
    tag = "chat",
    params(("channel" = String, Path, description = "The integrator's channel, e.g. huawei, chatbot, whatsapp")),
    request_body = UserMessagesIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<UserMessagesOut>), (status = 400, body = V1Error), (status = 401, body = V1Error))
)]
async fn receive_user_messages(
    State(app): State<AppState>,
    PathParams(path_channel): PathParams<String>,
    req: Signed<UserMessagesIn>,
) -> Result<V1<UserMessagesOut>, ApiError> {
    let body = req.body;
    let channel = match body.channel {
        Some(c) if !c.eq_ignore_ascii_case(&path_channel) => {
            return Err(ApiError::bad_request(format!(
                "channel {c:?} does not match the path's channel {path_channel:?}"
            )))
        }
        Some(c) => c,
        None => path_channel,
    };
    if body.channel_id.is_empty() || body.user.id.is_empty() {
        return Err(ApiError::bad_request(
            "channel_id and user.id must not be empty",
        ));
    }
    let session = NewSession {
        call_id: wire::call_id(&body.call_id)?,
        channel,
        channel_id: body.channel_id,
        user: body.user.into(),
        robot_id: body.robot_id.filter(|id| !id.is_empty()),
        variables: body.variables.unwrap_or_default(),
    };
    let messages = body
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, item)| wire::user_message(item, i))
        .collect::<Result<Vec<_>, _>>()?;
    let inbound = app
        .conversations
        .receive(&req.tenant, session, messages)
        .await?;
    Ok(V1::ok(
        &req.request_id,
        UserMessagesOut {
            call_id: inbound.session.call_id.into(),
            msg_ids: inbound
                .messages
                .into_iter()
                .map(|m| m.message.msg_id)
                .collect(),
        },
    ))
}
