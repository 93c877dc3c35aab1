//! Request bodies of the channel's own reports (Chatbot folder, CN items), with their
//! `TryFrom` into what `Conversations` takes. The routes are Tiller's design (the upstream
//! pages are titles only): `docs/compat.md`, "The channel's own reports".

use serde::Deserialize;
use serde_json::Value;
use tiller_core::{
    conversations::{CallId, ChannelMessage, ChannelSender, SessionRef, StatusReport},
    messages::MessageStatus,
};
use utoipa::ToSchema;

use super::wire::{call_id, user_message, UserIn, UserMessages, UserMessagesIn};
use crate::http::{params, ApiError};

/// 渠道发送的消息状态变更事件上报: the shape of the `message.status` callback, from the
/// channel's side.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusReportIn {
    pub call_id: String,
    /// At most 100, applied in order. A `timestamp` may be sent with each, as the
    /// `message.status` callback carries one; it is not kept.
    #[schema(max_items = 100)]
    #[serde(deserialize_with = "params::messages")]
    pub messages: Vec<StatusItemIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusItemIn {
    /// A message of the session sent to the user (by an agent, the robot, the chatbot or
    /// the channel itself).
    pub msg_id: String,
    /// `delivery`, `read` or `failed`.
    pub status: String,
}

/// A status report as `Conversations::report_statuses` takes it.
#[derive(Debug)]
pub struct StatusReports {
    pub call_id: CallId,
    pub reports: Vec<StatusReport>,
}

impl TryFrom<StatusReportIn> for StatusReports {
    type Error = ApiError;

    fn try_from(body: StatusReportIn) -> Result<Self, ApiError> {
        let call_id = call_id(&body.call_id)?;
        let reports = body
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                if item.msg_id.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "messages[{i}].msg_id must not be empty"
                    )));
                }
                let status = serde_json::from_value::<MessageStatus>(Value::String(item.status))
                    .map_err(|_| {
                        ApiError::bad_request(format!(
                            "messages[{i}].status must be delivery, read or failed"
                        ))
                    })?;
                Ok(StatusReport {
                    msg_id: item.msg_id,
                    status,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { call_id, reports })
    }
}

/// 渠道发送的消息事件上报: messages the channel sent on its own, shaped like send regular
/// message (the session by `call_id`, or by `channel_id` and `user.id`) with the user
/// message route's `messages`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelMessagesIn {
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub user: Option<UserIn>,
    /// `agent` (the default), `agent_system`, `robot` or `chatbot`.
    #[serde(default)]
    pub sender_type: Option<String>,
    /// The agent's seat; for an agent-side message the seat holding the session when left
    /// out.
    #[serde(default)]
    pub seat_id: Option<String>,
    /// Flattened contents, each optionally with the channel's own `msg_id` (retries are
    /// then idempotent), `timestamp` (unix seconds) and `status` (default `sent`).
    #[schema(value_type = Vec<Object>, max_items = 100)]
    #[serde(deserialize_with = "params::messages")]
    pub messages: Vec<Value>,
}

/// Channel messages as `Conversations::record_channel_messages` takes them, and the
/// session they name.
#[derive(Debug)]
pub struct ChannelMessages {
    pub session: SessionRef,
    pub sender: ChannelSender,
    pub seat_id: Option<String>,
    pub messages: Vec<ChannelMessage>,
}

impl TryFrom<ChannelMessagesIn> for ChannelMessages {
    type Error = ApiError;

    fn try_from(body: ChannelMessagesIn) -> Result<Self, ApiError> {
        let sender = match body.sender_type.as_deref() {
            None | Some("" | "agent") => ChannelSender::Agent,
            Some("agent_system") => ChannelSender::AgentSystem,
            Some("robot") => ChannelSender::Robot,
            Some("chatbot") => ChannelSender::Chatbot,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "sender_type must be agent, agent_system, robot or chatbot, not {other:?}"
                )))
            }
        };
        // An empty call_id counts as none given.
        let call_id = body
            .call_id
            .filter(|id| !id.is_empty())
            .map(|id| call_id(&id))
            .transpose()?;
        let messages = body
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, item)| channel_message(item, i))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            session: SessionRef {
                call_id,
                channel_id: body.channel_id,
                user_id: body.user.map(|u| u.id),
            },
            sender,
            seat_id: body.seat_id.filter(|s| !s.is_empty()),
            messages,
        })
    }
}

/// Reads `messages[index]` of a channel report: a user-message item plus its `status`.
fn channel_message(mut item: Value, index: usize) -> Result<ChannelMessage, ApiError> {
    let status = match item.as_object_mut().and_then(|o| o.remove("status")) {
        None | Some(Value::Null) => None,
        Some(raw) => Some(serde_json::from_value::<MessageStatus>(raw).map_err(|_| {
            ApiError::bad_request(format!(
                "messages[{index}].status must be sent, delivery, read or failed"
            ))
        })?),
    };
    let m = user_message(item, index)?;
    Ok(ChannelMessage {
        content: m.content,
        msg_id: m.msg_id,
        timestamp: m.timestamp,
        status,
    })
}

/// 用户发送的消息事件上报: the user message route's body, where no path names the channel,
/// so `channel` is required.
impl TryFrom<UserMessagesIn> for UserMessages {
    type Error = ApiError;

    fn try_from(body: UserMessagesIn) -> Result<Self, ApiError> {
        let channel = body
            .channel
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::bad_request("channel must name the session's channel"))?;
        Self::try_from((channel, body))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::http::ErrorKind;

    fn refusal<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
        let e = r.expect_err("the input is refused");
        assert_eq!(e.kind(), ErrorKind::BadRequest, "{e}");
        e.to_string()
    }

    fn statuses(body: Value) -> Result<StatusReports, ApiError> {
        StatusReports::try_from(serde_json::from_value::<StatusReportIn>(body).unwrap())
    }

    #[test]
    fn status_reports_read_the_message_status_shape() {
        let got = statuses(json!({"call_id": "c1", "messages": [
            {"msg_id": "a", "status": "read", "timestamp": 1_716_965_185_i64},
            {"msg_id": "b", "status": "send"},
        ]}))
        .unwrap();
        assert_eq!(got.call_id.as_str(), "c1");
        let read: Vec<_> = got
            .reports
            .iter()
            .map(|r| (r.msg_id.as_str(), r.status))
            .collect();
        assert_eq!(
            read,
            [("a", MessageStatus::Read), ("b", MessageStatus::Sent)],
            "`send` reads as sent (and core refuses it)"
        );
        for (body, expected) in [
            (
                json!({"call_id": "c1", "messages": [{"msg_id": "a", "status": "seen"}]}),
                "messages[0].status must be delivery, read or failed",
            ),
            (
                json!({"call_id": "c1", "messages": [{"msg_id": "", "status": "read"}]}),
                "messages[0].msg_id must not be empty",
            ),
            (
                json!({"call_id": "", "messages": [{"msg_id": "a", "status": "seen"}]}),
                "call_id must not be empty",
            ),
        ] {
            assert_eq!(refusal(statuses(body.clone())), expected, "{body}");
        }
    }

    fn channel(body: Value) -> Result<ChannelMessages, ApiError> {
        ChannelMessages::try_from(serde_json::from_value::<ChannelMessagesIn>(body).unwrap())
    }

    #[test]
    fn channel_messages_default_to_an_agent_and_keep_what_is_given() {
        let got = channel(json!({"call_id": "c1", "messages": [
            {"type": "text", "text": "hi", "msg_id": "ch-1", "timestamp": 5, "status": "delivery"},
            {"type": "text", "text": "again"},
        ]}))
        .unwrap();
        assert_eq!(got.sender, ChannelSender::Agent);
        assert_eq!(got.session.call_id.unwrap().as_str(), "c1");
        let first = &got.messages[0];
        assert_eq!(
            (first.msg_id.as_deref(), first.timestamp, first.status),
            (Some("ch-1"), Some(5), Some(MessageStatus::Delivery))
        );
        assert_eq!(
            serde_json::to_value(&first.content).unwrap(),
            json!({"type": "text", "text": "hi"}),
            "the status is not part of the content"
        );
        assert_eq!(got.messages[1].status, None);
        let by_user = channel(json!({"channel_id": "biz", "user": {"id": "u1"},
            "sender_type": "chatbot", "messages": [{"type": "text", "text": "hi"}]}))
        .unwrap();
        assert_eq!(by_user.sender, ChannelSender::Chatbot);
        assert_eq!(by_user.session.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn channel_message_refusals_say_what_is_wrong() {
        let text = json!({"type": "text", "text": "hi"});
        for (body, expected) in [
            (
                json!({"call_id": "c1", "sender_type": "user", "messages": [text]}),
                r#"sender_type must be agent, agent_system, robot or chatbot, not "user""#,
            ),
            (
                json!({"call_id": "c1", "messages": [{"type": "text", "status": "seen"}]}),
                "messages[0].status must be sent, delivery, read or failed",
            ),
            (
                json!({"call_id": "c1", "messages": [text, {"text": "no type"}]}),
                "messages[1] must be an object with a string `type`",
            ),
        ] {
            assert_eq!(refusal(channel(body.clone())), expected, "{body}");
        }
    }

    #[test]
    fn reported_user_messages_need_the_channel_in_the_body() {
        let body = |channel: Value| {
            let mut b = json!({"call_id": "c1", "channel_id": "biz", "user": {"id": "u1"},
                "messages": [{"type": "text", "text": "hi"}]});
            b["channel"] = channel;
            UserMessages::try_from(serde_json::from_value::<UserMessagesIn>(b).unwrap())
        };
        assert_eq!(body(json!("HuaWei")).unwrap().session.channel, "HuaWei");
        for missing in [json!(null), json!("")] {
            assert_eq!(
                refusal(body(missing)),
                "channel must name the session's channel"
            );
        }
    }
}
