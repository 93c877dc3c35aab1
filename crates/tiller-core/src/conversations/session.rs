//! Sessions and the messages stored in them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CallId;
use crate::{messages::Message, robots::flow::DialogueState, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// A robot answers the user.
    Bot,
    /// A transfer to a human agent was requested and awaits an answer.
    PendingAgent,
    /// A human agent holds the conversation.
    Agent,
    Closed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::PendingAgent => "pending_agent",
            Self::Agent => "agent",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "bot" => Some(Self::Bot),
            "pending_agent" => Some(Self::PendingAgent),
            "agent" => Some(Self::Agent),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Why a session ended (`session_end_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Robot,
    Agent,
    Error,
    Expire,
    User,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Robot => "robot",
            Self::Agent => "agent",
            Self::Error => "error",
            Self::Expire => "expire",
            Self::User => "user",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "robot" => Some(Self::Robot),
            "agent" => Some(Self::Agent),
            "error" => Some(Self::Error),
            "expire" => Some(Self::Expire),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// The end user on the channel: `user.id`, `user.name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUser {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub tenant: TenantId,
    pub call_id: CallId,
    /// The channel as the integrator names it (`WhatsApp`, `HuaWei`, `chatbot`, …).
    pub channel: String,
    /// The business account on that channel.
    pub channel_id: String,
    pub user: ChatUser,
    pub state: SessionState,
    pub end_reason: Option<EndReason>,
    /// The agent holding the session, once one does.
    pub seat_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// What the integrator reported after the session ended.
    pub report: Option<serde_json::Value>,
    /// The robot answering the session; `None` when the session only records.
    pub robot_id: Option<String>,
    /// The robot's dialogue state (JSON), once a turn has run.
    pub robot_state: Option<serde_json::Value>,
    /// The last user message (by `seq`) the robot has handled or handed to an agent.
    pub answered_seq: i64,
    /// Set while user messages wait for a robot turn.
    pub turn_due: Option<DateTime<Utc>>,
    /// Grows with every state change; [`SessionChange`]s are applied against it.
    pub state_version: i64,
    /// The variables the session was started with (`session.end` carries them).
    pub variables: serde_json::Map<String, serde_json::Value>,
}

impl Session {
    /// The robot's dialogue as stored (a fresh one before the first turn, or if the stored
    /// state no longer reads).
    pub fn dialogue(&self) -> DialogueState {
        self.robot_state
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// A compare-and-set change to one session, applied in one transaction with the messages
/// it records and the events it reports. It applies only while the session's
/// `state_version` is still `expected_version` (and, for a robot turn, while the turn lease
/// is still held), so a robot turn, an agent's transfer answer and an expiry sweep can
/// never overwrite each other's decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionChange {
    pub expected_version: i64,
    /// The turn lease that must still be held; it is released by the change.
    pub turn_lease: Option<String>,
    pub state: SessionState,
    /// Set with `state` `Closed` (`ended_at` becomes now); cleared otherwise.
    pub end_reason: Option<EndReason>,
    pub seat_id: Option<String>,
    /// `None` leaves the stored dialogue as it is.
    pub robot_state: Option<serde_json::Value>,
    /// `None` leaves it as it is.
    pub answered_seq: Option<i64>,
    /// Appended in order.
    pub messages: Vec<Message>,
    /// Enqueued in the outbox.
    pub events: Vec<crate::webhooks::NewEvent>,
}

/// What identifies a session on first contact.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub call_id: CallId,
    pub channel: String,
    pub channel_id: String,
    pub user: ChatUser,
    /// The robot to answer; `None` for the tenant's default robot, if it has one.
    pub robot_id: Option<String>,
    /// The variables to start the session with (kept only when this call opens or reopens
    /// it).
    pub variables: serde_json::Map<String, serde_json::Value>,
}

/// A message as stored: the wire [`Message`] plus the store's ordering key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Insertion order within the whole store; the cursor behind every list.
    pub seq: i64,
    pub call_id: CallId,
    pub message: Message,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The outcome of recording inbound user messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub session: Session,
    /// The session was created (or a closed one reopened) by this call.
    pub opened: bool,
    /// The user's messages, in the order given; a message whose client-supplied id was
    /// already stored is returned as stored, not written twice.
    pub messages: Vec<StoredMessage>,
    /// How many of `messages` were new.
    pub inserted: usize,
}
