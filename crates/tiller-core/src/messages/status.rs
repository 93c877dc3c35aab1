//! The small closed vocabularies of a message: who sent it, how far it got, and which
//! conversation event a system message records.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who produced a message (AIRUDDER `sender_type`, spec §1.2 "Chat enums").
///
/// The list API names `robot`, `agent`, `user` and `system`; the webhook examples add
/// `chatbot` (a WABA template sent by the chatbot), and the send API adds `agent_system`.
/// The set is closed on purpose: a value outside it is rejected, because routing and
/// agent-UI rules match on it exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderType {
    Robot,
    Agent,
    User,
    System,
    Chatbot,
    AgentSystem,
}

impl SenderType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Robot => "robot",
            Self::Agent => "agent",
            Self::User => "user",
            Self::System => "system",
            Self::Chatbot => "chatbot",
            Self::AgentSystem => "agent_system",
        }
    }
}

/// How far a message got (AIRUDDER message `status`).
///
/// One example in the list API (seed 000) spells `sent` as `"send"`. It is read as
/// [`MessageStatus::Sent`] and always written back as `"sent"`, so that one example does not
/// round-trip byte for byte; the spec round-trip test compares it after normalising
/// `"send"` to `"sent"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    #[serde(alias = "send")]
    Sent,
    Delivery,
    Read,
    Failed,
}

impl MessageStatus {
    /// The wire spelling (the canonical one: `sent`, never `send`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivery => "delivery",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// The body of a `{"type":"system"}` content: a conversation life-cycle event.
///
/// `from_seat_id` / `to_seat_id` are agent ids, `""` when there is none
/// (e.g. `conversation.start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemEvent {
    #[serde(rename = "type")]
    pub kind: SystemEventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_seat_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_seat_id: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `system.type` of a system message. Open: an event name the docs do not list is kept
/// as [`SystemEventKind::Other`], so a new AIRUDDER event never makes a transcript unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SystemEventKind {
    /// The conversation was opened.
    #[serde(rename = "conversation.start")]
    Start,
    /// An agent took the conversation over from the bot (or from another agent).
    #[serde(rename = "conversation.take_over")]
    TakeOver,
    /// The conversation was closed.
    #[serde(rename = "conversation.close")]
    Close,
    #[serde(untagged)]
    Other(String),
}

impl SystemEventKind {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Start => "conversation.start",
            Self::TakeOver => "conversation.take_over",
            Self::Close => "conversation.close",
            Self::Other(other) => other,
        }
    }
}
