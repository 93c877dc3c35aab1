//! A message as the list API returns it and the webhooks push it, and the `reply` it may
//! point at.

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{Content, MessageStatus, SenderType};

/// One chat message (spec §1.3):
/// `{"msg_id","seat_id","timestamp","sender_type","status","content","reply"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// 32 hex, with a `-<n>` suffix when one bot turn produced several messages; system
    /// events use long digit strings.
    pub msg_id: String,
    /// The agent id: often `""`, sometimes absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    pub sender_type: SenderType,
    /// Absent in the bot-reply callback (`message.send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    pub content: Content,
    /// The message this one answers (a user's tap on a button or template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The message a `reply` points at. The docs show three shapes, all kept as given:
///
/// - message-level, the full form: `{"msg_id","sender_type","timestamp","content":{…}}`
///   ([`Reply::Message`]);
/// - message-level, flattened: `{"msg_id","type":"interactive","interactive":{…}}`
///   (list API, seed 000) ([`Reply::Inline`]);
/// - inside a content, without an id: `{"type":"text","text":"…"}` ([`Reply::Inline`]).
///
/// A reply object with a `content` key is read as [`Reply::Message`], any other as
/// [`Reply::Inline`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Message(ReplyMessage),
    Inline(InlineReply),
}

impl Reply {
    /// The id of the message answered, when given.
    pub fn msg_id(&self) -> Option<&str> {
        match self {
            Self::Message(m) => m.msg_id.as_deref(),
            Self::Inline(i) => i.msg_id.as_deref(),
        }
    }

    /// The content of the message answered.
    pub fn content(&self) -> &Content {
        match self {
            Self::Message(m) => &m.content,
            Self::Inline(i) => &i.content,
        }
    }
}

// Hand-written to pick the shape by the `content` key and report that shape's own error,
// instead of serde's untagged "did not match any variant".
impl<'de> Deserialize<'de> for Reply {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let reply = if value.get("content").is_some() {
            serde_json::from_value(value).map(Self::Message)
        } else {
            serde_json::from_value(value).map(Self::Inline)
        };
        reply.map_err(D::Error::custom)
    }
}

/// A reply in full message form: a [`Message`] without its own `reply` and with every
/// field but `content` optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<SenderType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    pub content: Content,
    /// Fields the docs do not define (a nested `reply` included), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A reply whose content fields sit next to its (optional) `msg_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    #[serde(flatten)]
    pub content: Content,
}
