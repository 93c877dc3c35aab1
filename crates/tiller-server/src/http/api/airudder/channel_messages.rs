//! `POST /api/v1/channel/{channel}/message` — user send message (用户发送消息), in the shape
//! of the documented Huawei twin (spec §3.1): the integrator forwards what a user typed or
//! tapped; Tiller opens the session on first contact, stores every message, then hands
//! them to the conversation engine. Answers only once the messages are committed.

use axum::extract::State;
use serde::Serialize;
use tiller_core::conversations::Inbound;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::wire::{UserMessages, UserMessagesIn};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params::PathParams,
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_user_messages))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserMessagesOut {
    pub call_id: String,
    /// The stored ids, in the order the messages were given.
    pub msg_ids: Vec<String>,
}

impl From<Inbound> for UserMessagesOut {
    fn from(inbound: Inbound) -> Self {
        Self {
            call_id: inbound.session.call_id.into(),
            msg_ids: inbound
                .messages
                .into_iter()
                .map(|m| m.message.msg_id)
                .collect(),
        }
    }
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
    PathParams(channel): PathParams<String>,
    req: Signed<UserMessagesIn>,
) -> Result<V1<UserMessagesOut>, ApiError> {
    let new = UserMessages::try_from((channel, req.body))?;
    let inbound = app
        .conversations
        .receive(&req.tenant, new.session, new.messages)
        .await?;
    Ok(V1::ok(&req.request_id, inbound.into()))
}
