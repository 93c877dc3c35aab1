//! Wire pieces shared by the chat APIs: the `user` object, `call_id` parsing, message items,
//! the session shape returned by the list and end APIs, and the request bodies whose checks
//! are more than a field or two, each with its `TryFrom` into what the service takes (so
//! the handlers stay glue).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiller_core::{
    conversations::{
        AgentSender, CallId, ChatUser, EndReason, NewSession, Session, SessionRef, UserMessage,
    },
    messages::Content,
    robots::TransferAnswer,
};
use utoipa::ToSchema;

use crate::http::{params, ApiError};

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
        reply_to: None,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserMessagesIn {
    pub call_id: String,
    /// Defaults to the path's channel; when given it must name the same channel. Required
    /// where no path names one (`/api/v1/channel/user/message/report`).
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

/// A user's messages as `Conversations::receive` takes them.
#[derive(Debug)]
pub struct UserMessages {
    pub session: NewSession,
    pub messages: Vec<UserMessage>,
}

/// From the path's channel and the body.
impl TryFrom<(String, UserMessagesIn)> for UserMessages {
    type Error = ApiError;

    fn try_from((path_channel, body): (String, UserMessagesIn)) -> Result<Self, ApiError> {
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
            call_id: call_id(&body.call_id)?,
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
            .map(|(i, item)| user_message(item, i))
            .collect::<Result<_, _>>()?;
        Ok(Self { session, messages })
    }
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

/// An agent-side message as `Conversations::send` takes it, and the session it names.
#[derive(Debug)]
pub struct AgentMessage {
    pub session: SessionRef,
    pub sender: AgentSender,
    pub content: Content,
    pub seat_id: Option<String>,
}

impl TryFrom<SendMessageIn> for AgentMessage {
    type Error = ApiError;

    fn try_from(body: SendMessageIn) -> Result<Self, ApiError> {
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
        let content = content(item, 0)?;
        // An empty call_id counts as none given.
        let call_id = body
            .call_id
            .filter(|id| !id.is_empty())
            .map(|id| call_id(&id))
            .transpose()?;
        Ok(Self {
            session: SessionRef {
                call_id,
                channel_id: body.channel_id,
                user_id: body.user.map(|u| u.id),
            },
            sender,
            content,
            seat_id: body.seat_id,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferResultIn {
    pub call_id: String,
    /// `accepted`, `refused` or `timeout`.
    pub result: String,
    /// The agent taking over; required when `accepted`.
    #[serde(default)]
    pub seat_id: Option<String>,
}

/// The agent side's answer to a transfer, for `RobotEngine::transfer_result`.
#[derive(Debug)]
pub struct TransferResult {
    pub call_id: CallId,
    pub answer: TransferAnswer,
}

impl TryFrom<TransferResultIn> for TransferResult {
    type Error = ApiError;

    fn try_from(body: TransferResultIn) -> Result<Self, ApiError> {
        let answer = match (body.result.as_str(), body.seat_id) {
            ("accepted", Some(seat_id)) if !seat_id.is_empty() => {
                TransferAnswer::Accepted { seat_id }
            }
            ("accepted", _) => {
                return Err(ApiError::bad_request("an accepted transfer needs seat_id"))
            }
            ("refused", _) => TransferAnswer::Refused,
            ("timeout", _) => TransferAnswer::Timeout,
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "result must be accepted, refused or timeout, not {other:?}"
                )))
            }
        };
        Ok(Self {
            call_id: call_id(&body.call_id)?,
            answer,
        })
    }
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
    use crate::http::ErrorKind;

    /// The 400's message, for a conversion that must fail.
    fn refusal<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
        let e = r.expect_err("the input is refused");
        assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
        e.to_string()
    }

    fn user_messages(path: &str, body: Value) -> Result<UserMessages, ApiError> {
        let body: UserMessagesIn = serde_json::from_value(body).unwrap();
        UserMessages::try_from((path.to_owned(), body))
    }

    fn huawei(extra: &[(&str, Value)]) -> Value {
        let mut body = json!({
            "call_id": "c1", "channel_id": "ch-1", "user": {"id": "u-1", "name": "nick"},
            "messages": [{"type": "text", "text": "hi", "msg_id": "m1"}],
        });
        for (k, v) in extra {
            body[*k] = v.clone();
        }
        body
    }

    #[test]
    fn user_messages_open_a_session_on_the_paths_channel() {
        let got = user_messages("huawei", huawei(&[("robot_id", json!(""))])).unwrap();
        assert_eq!(got.session.call_id.as_str(), "c1");
        assert_eq!(got.session.channel, "huawei");
        assert_eq!(got.session.channel_id, "ch-1");
        assert_eq!(got.session.user.name, "nick");
        assert_eq!(got.session.robot_id, None, "an empty robot_id is none");
        assert!(got.session.variables.is_empty());
        assert_eq!(got.messages.len(), 1);
        assert_eq!(got.messages[0].msg_id.as_deref(), Some("m1"));

        let named = huawei(&[
            ("channel", json!("Huawei")),
            ("robot_id", json!("r1")),
            ("variables", json!({"lang": "en"})),
        ]);
        let got = user_messages("huawei", named).unwrap();
        assert_eq!(got.session.channel, "Huawei", "the body's spelling is kept");
        assert_eq!(got.session.robot_id.as_deref(), Some("r1"));
        assert_eq!(got.session.variables["lang"], "en");
    }

    #[test]
    fn user_messages_refusals_say_what_is_wrong() {
        let other = huawei(&[("channel", json!("line"))]);
        assert_eq!(
            refusal(user_messages("huawei", other)),
            r#"channel "line" does not match the path's channel "huawei""#
        );
        for (field, value) in [("channel_id", json!("")), ("user", json!({"id": ""}))] {
            assert_eq!(
                refusal(user_messages("huawei", huawei(&[(field, value)]))),
                "channel_id and user.id must not be empty"
            );
        }
        let long = huawei(&[("call_id", json!("x".repeat(129)))]);
        assert_eq!(
            refusal(user_messages("huawei", long)),
            "call_id must be at most 128 characters"
        );
        let untyped = huawei(&[("messages", json!([{"type": "text"}, {"text": "no type"}]))]);
        assert_eq!(
            refusal(user_messages("huawei", untyped)),
            "messages[1] must be an object with a string `type`"
        );
        // The channel is checked before the call_id, the call_id before the messages.
        let all_wrong = huawei(&[
            ("channel", json!("line")),
            ("call_id", json!("")),
            ("messages", json!(["hi"])),
        ]);
        assert!(refusal(user_messages("huawei", all_wrong)).starts_with("channel "));
        let two_wrong = huawei(&[("call_id", json!("")), ("messages", json!(["hi"]))]);
        assert_eq!(
            refusal(user_messages("huawei", two_wrong)),
            "call_id must not be empty"
        );
    }

    fn agent_message(body: Value) -> Result<AgentMessage, ApiError> {
        AgentMessage::try_from(serde_json::from_value::<SendMessageIn>(body).unwrap())
    }

    #[test]
    fn agent_messages_name_their_session_by_call_id_or_user() {
        let by_id = agent_message(json!({
            "call_id": "c1", "sender_type": "agent", "seat_id": "s1",
            "messages": [{"type": "text", "text": "hello"}],
        }))
        .unwrap();
        assert_eq!(by_id.sender, AgentSender::Agent);
        assert_eq!(by_id.session.call_id.unwrap().as_str(), "c1");
        assert_eq!(by_id.seat_id.as_deref(), Some("s1"));
        assert_eq!(by_id.content.text(), Some("hello"));

        let by_user = agent_message(json!({
            "call_id": "", "channel_id": "ch-1", "user": {"id": "u-1"},
            "sender_type": "agent_system", "messages": [{"type": "text", "text": "hi"}],
        }))
        .unwrap();
        assert_eq!(by_user.sender, AgentSender::AgentSystem);
        assert_eq!(
            by_user.session,
            SessionRef {
                call_id: None,
                channel_id: Some("ch-1".into()),
                user_id: Some("u-1".into()),
            },
            "an empty call_id counts as none"
        );
    }

    #[test]
    fn agent_message_refusals_say_what_is_wrong() {
        let text = json!({"type": "text", "text": "hi"});
        let cases = [
            (
                json!({"call_id": "c1", "sender_type": "user", "messages": [text]}),
                r#"sender_type must be agent or agent_system, not "user""#,
            ),
            (
                json!({"call_id": "c1", "sender_type": "agent", "messages": [text, text]}),
                "messages must hold exactly one message, not 2",
            ),
            (
                json!({"call_id": "c1", "sender_type": "agent", "messages": []}),
                "messages must hold exactly one message, not 0",
            ),
            (
                json!({"call_id": "c1", "sender_type": "agent", "messages": [{"text": "x"}]}),
                "messages[0] must be an object with a string `type`",
            ),
            (
                json!({"call_id": "x".repeat(129), "sender_type": "agent", "messages": [text]}),
                "call_id must be at most 128 characters",
            ),
            (
                // The sender is checked first.
                json!({"call_id": "", "sender_type": "bot", "messages": []}),
                r#"sender_type must be agent or agent_system, not "bot""#,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(refusal(agent_message(body.clone())), expected, "{body}");
        }
    }

    fn transfer(body: Value) -> Result<TransferResult, ApiError> {
        TransferResult::try_from(serde_json::from_value::<TransferResultIn>(body).unwrap())
    }

    #[test]
    fn transfer_results_become_answers() {
        let accepted = transfer(json!({"call_id": "c1", "result": "accepted", "seat_id": "s1"}));
        let accepted = accepted.unwrap();
        assert_eq!(accepted.call_id.as_str(), "c1");
        assert_eq!(
            accepted.answer,
            TransferAnswer::Accepted {
                seat_id: "s1".into()
            }
        );
        let refused = transfer(json!({"call_id": "c1", "result": "refused", "seat_id": ""}));
        assert_eq!(refused.unwrap().answer, TransferAnswer::Refused);
        let timeout = transfer(json!({"call_id": "c1", "result": "timeout"}));
        assert_eq!(timeout.unwrap().answer, TransferAnswer::Timeout);
    }

    #[test]
    fn transfer_result_refusals_say_what_is_wrong() {
        for (body, expected) in [
            (
                json!({"call_id": "c1", "result": "accepted"}),
                "an accepted transfer needs seat_id",
            ),
            (
                json!({"call_id": "c1", "result": "accepted", "seat_id": ""}),
                "an accepted transfer needs seat_id",
            ),
            (
                json!({"call_id": "c1", "result": "maybe"}),
                r#"result must be accepted, refused or timeout, not "maybe""#,
            ),
            (
                // The result is checked before the call_id.
                json!({"call_id": "", "result": "maybe"}),
                r#"result must be accepted, refused or timeout, not "maybe""#,
            ),
            (
                json!({"call_id": "", "result": "refused"}),
                "call_id must not be empty",
            ),
        ] {
            assert_eq!(refusal(transfer(body.clone())), expected, "{body}");
        }
    }

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
