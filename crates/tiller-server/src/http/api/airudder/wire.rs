//! Wire pieces shared by the chat APIs: the `user` object, `call_id` parsing, message items
//! and the session shape returned by the list and end APIs.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiller_core::{
    conversations::{CallId, ChatUser, EndReason, Session, UserMessage},
    messages::Content,
};
use utoipa::ToSchema;

use crate::http::ApiError;

/// `{"id": "…", "name": "…"}`; `name` may be left out.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct UserIn {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

impl From<UserIn> for ChatUser {
    fn from(u: UserIn) -> Self {
        ChatUser {
            id: u.id,
            name: u.name,
        }
    }
}

pub fn call_id(raw: &str) -> Result<CallId, ApiError> {
    CallId::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Reads `messages[index]`: a flattened content (`{"type":"text","text":"hi"}`).
pub fn content(item: Value, index: usize) -> Result<Content, ApiError> {
    if !item.get("type").is_some_and(Value::is_string) {
        return Err(ApiError::bad_request(format!(
            "messages[{index}] must be an object with a string `type`"
        )));
    }
    serde_json::from_value(item).map_err(|e| {
        ApiError::bad_request(format!("messages[{index}] is not a valid message: {e}"))
    })
}

/// Reads an inbound `messages[index]`: a flattened content plus, optionally, the
/// integrator's own `msg_id` (making retries idempotent) and `timestamp` (unix seconds).
pub fn user_message(mut item: Value, index: usize) -> Result<UserMessage, ApiError> {
    let (msg_id, timestamp) = match item.as_object_mut() {
        Some(obj) => (obj.remove("msg_id"), obj.remove("timestamp")),
        None => (None, None),
    };
    let msg_id = match msg_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 128 => Some(id),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "messages[{index}].msg_id must be a non-empty string of at most 128 characters"
            )))
        }
    };
    let timestamp = match timestamp {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|t| *t > 0).ok_or_else(|| {
            ApiError::bad_request(format!("messages[{index}].timestamp must be unix seconds"))
        })?),
    };
    Ok(UserMessage {
        content: content(item, index)?,
        msg_id,
        timestamp,
    })
}

/// UTC ISO-8601 with seconds, as `session_start_time` is written (`2025-04-15T06:41:00Z`).
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    pub call_id: String,
    pub channel: String,
    pub channel_id: String,
    pub user: UserIn,
    /// `bot`, `pending_agent`, `agent` or `closed`.
    pub status: &'static str,
    pub session_end_reason: Option<&'static str>,
    pub seat_id: String,
    pub session_start_time: String,
    pub session_end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// The robot answering the session, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robot_id: Option<String>,
}

impl From<Session> for SessionOut {
    fn from(s: Session) -> Self {
        SessionOut {
            call_id: s.call_id.into(),
            channel: s.channel,
            channel_id: s.channel_id,
            user: UserIn {
                id: s.user.id,
                name: s.user.name,
            },
            status: s.state.as_str(),
            session_end_reason: s.end_reason.map(EndReason::as_str),
            seat_id: s.seat_id.unwrap_or_default(),
            session_start_time: iso(s.started_at),
            session_end_time: s.ended_at.map(iso),
            report: s.report,
            robot_id: s.robot_id,
        }
    }
}

/// A chat message (spec §1.3) as the list APIs return it and webhooks push it. Describes
/// `tiller_core::messages::Message` for the OpenAPI document; the API serializes that type.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageDoc {
    /// 32 hex; system events use long digit strings.
    pub msg_id: String,
    pub seat_id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    /// `user`, `robot`, `agent`, `agent_system`, `system` or `chatbot`.
    pub sender_type: String,
    /// `sent`, `delivery`, `read` or `failed`.
    pub status: Option<String>,
    /// `{"type": "text" | "image" | "video" | "audio" | "file" | "location" | "contacts" |
    /// "interactive" | "button" | "template" | "system", …}`; other types are kept as given.
    #[schema(value_type = Object)]
    pub content: Value,
    /// The message answered, when there is one.
    #[schema(value_type = Option<Object>)]
    pub reply: Option<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn user_message_items_take_an_optional_id_and_time() {
        let m = user_message(
            json!({"type":"text","text":"hi","msg_id":"abc","timestamp":1_716_965_185_i64}),
            0,
        )
        .unwrap();
        assert_eq!(m.msg_id.as_deref(), Some("abc"));
        assert_eq!(m.timestamp, Some(1_716_965_185));
        assert_eq!(
            serde_json::to_value(&m.content).unwrap(),
            json!({"type":"text","text":"hi"})
        );
        assert!(user_message(json!({"type":"text","msg_id":5}), 0).is_err());
        assert!(user_message(json!({"type":"text","timestamp":"yesterday"}), 0).is_err());
        assert!(user_message(json!({"text":"no type"}), 1).is_err());
        assert!(user_message(json!("hi"), 0).is_err());
        assert!(user_message(json!({"type":"image","media":"not an object"}), 0).is_err());
    }
}
