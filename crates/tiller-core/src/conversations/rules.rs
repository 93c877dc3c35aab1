//! Where a user's new messages go, decided once. The stores read a session's
//! [`SessionFacts`] inside their transaction, ask these pure functions for a plan and
//! apply it as it is: no backend restates a session state in SQL or in Rust.
//!
//! - An inbound call opens a session that is absent and reopens a closed one
//!   ([`Opening`]).
//! - New user messages belong to the robot while the session is `bot` with a robot (its
//!   turn becomes due), to the agent side while it is `pending_agent` or `agent` (they
//!   count as answered and are forwarded as `message.receive`), and to nobody else.
//! - After any change a turn is due exactly while the robot answers and user messages
//!   wait after `answered_seq`; it keeps the time it first became due.
//! - Messages the channel reports as already handled ([`InboundMode::Record`]) are only
//!   recorded: they count as answered and go to nobody.

use chrono::{DateTime, Utc};

use super::{message_receive_event, Session, SessionChange, SessionState};
use crate::{messages::Message, webhooks::NewEvent, StoreError};

/// What decides where a session's new user messages go: a few columns, so a store can read
/// them without parsing the whole session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    pub state: SessionState,
    pub has_robot: bool,
    pub turn_due: Option<DateTime<Utc>>,
    pub answered_seq: i64,
}

impl From<&Session> for SessionFacts {
    fn from(s: &Session) -> Self {
        Self {
            state: s.state,
            has_robot: s.robot_id.is_some(),
            turn_due: s.turn_due,
            answered_seq: s.answered_seq,
        }
    }
}

/// Who answers a session's new user messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The session's robot: a turn becomes due.
    Robot,
    /// A human agent, holding the session or asked to: the integrator hears of them.
    Agent,
    /// Nobody: the messages are only recorded (no robot, or the session is closed).
    Nobody,
}

impl SessionFacts {
    /// A session as an inbound call opens (or reopens) it: in state `bot`, nothing due
    /// yet, the messages up to `answered_seq` (all earlier ones) counting as answered.
    pub fn opened(has_robot: bool, answered_seq: i64) -> Self {
        Self {
            state: Opening::STATE,
            has_robot,
            turn_due: None,
            answered_seq,
        }
    }

    pub fn answerer(&self) -> Answerer {
        match self.state {
            SessionState::Bot if self.has_robot => Answerer::Robot,
            SessionState::PendingAgent | SessionState::Agent => Answerer::Agent,
            SessionState::Bot | SessionState::Closed => Answerer::Nobody,
        }
    }

    /// When the robot's turn is due, given whether user messages wait after
    /// `answered_seq`: the time it first became due, else now; `None` when no turn is due.
    pub fn turn_due(&self, user_messages_wait: bool, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.answerer() == Answerer::Robot && user_messages_wait)
            .then(|| self.turn_due.unwrap_or(now))
    }
}

/// How an inbound call treats the session it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// The session is open: the messages join it.
    Continue,
    /// First contact: the session is created in state `bot`.
    Open,
    /// The session was closed: it starts again in state `bot`, with a fresh dialogue,
    /// earlier messages counting as answered.
    Reopen,
}

impl Opening {
    /// The state a session opens (and reopens) in.
    pub const STATE: SessionState = SessionState::Bot;

    /// `existing`: the stored session's state, if it exists.
    pub fn of(existing: Option<SessionState>) -> Self {
        match existing {
            None => Self::Open,
            Some(SessionState::Closed) => Self::Reopen,
            Some(_) => Self::Continue,
        }
    }

    /// True when the call opens the session (and records `conversation.start`).
    pub fn opens(self) -> bool {
        self != Self::Continue
    }
}

/// What an inbound call's user messages are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundMode {
    /// To be answered (user send message): by the robot, whose turn becomes due, or on the
    /// agent side, which hears of them as `message.receive`.
    Answer,
    /// Only to be recorded (用户发送的消息事件上报): the channel has handled them. They count
    /// as answered, so no robot turn becomes due for them, and they are not forwarded, since
    /// the integrator reporting them already has them. While the robot still has earlier
    /// messages to answer (its turn is due), `answered_seq` cannot skip those, so the
    /// recorded ones are read in that turn with them.
    Record,
}

impl InboundMode {
    /// Whether the new messages go to the agent side as `message.receive`.
    pub fn forwards(self, answerer: Answerer) -> bool {
        self == Self::Answer && answerer == Answerer::Agent
    }
}

/// What new user messages change on their session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserMessagesPlan {
    pub turn_due: Option<DateTime<Utc>>,
    pub answered_seq: i64,
    /// The messages go to the agent side as `message.receive`.
    forward: bool,
}

impl UserMessagesPlan {
    /// The events to enqueue with the messages, built from the session as updated.
    pub fn events(&self, company: &str, session: &Session, new: &[Message]) -> Vec<NewEvent> {
        if self.forward && !new.is_empty() {
            vec![message_receive_event(company, session, new)]
        } else {
            Vec::new()
        }
    }
}

/// The plan for a session whose new user messages end at `newest` (their last `seq`;
/// `None` when every message was a retry already stored), given what they are for.
pub fn plan_user_messages(
    facts: &SessionFacts,
    newest: Option<i64>,
    mode: InboundMode,
    now: DateTime<Utc>,
) -> UserMessagesPlan {
    let unchanged = UserMessagesPlan {
        turn_due: facts.turn_due,
        answered_seq: facts.answered_seq,
        forward: false,
    };
    let Some(newest) = newest else {
        return unchanged;
    };
    let answered = UserMessagesPlan {
        answered_seq: newest,
        forward: mode.forwards(facts.answerer()),
        ..unchanged
    };
    match (mode, facts.answerer()) {
        (InboundMode::Answer, Answerer::Robot) => UserMessagesPlan {
            turn_due: facts.turn_due(true, now),
            ..unchanged
        },
        (InboundMode::Answer, Answerer::Nobody) => unchanged,
        (InboundMode::Record, Answerer::Robot) if facts.turn_due.is_some() => unchanged,
        (InboundMode::Answer, Answerer::Agent) | (InboundMode::Record, _) => answered,
    }
}

impl SessionChange {
    /// The session's `ended_at` once the change applies: now when it closes the session,
    /// cleared otherwise.
    pub fn ended_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.state == SessionState::Closed).then_some(now)
    }
}

/// Agents and the robot write only into an open session.
pub fn require_open(state: SessionState) -> Result<(), StoreError> {
    match state {
        SessionState::Closed => Err(StoreError::Rejected("session is closed".into())),
        _ => Ok(()),
    }
}

/// A report is kept only for a session that has ended.
pub fn require_closed(state: SessionState) -> Result<(), StoreError> {
    match state {
        SessionState::Closed => Ok(()),
        _ => Err(StoreError::Rejected("session is still open".into())),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
