//! Conversations: sessions (`call_id`) between a business channel and a user, the
//! messages stored in them, and the queries over both.
//!
//! Life cycle: a session opens in [`SessionState::Bot`] on the first user message, may move
//! to `PendingAgent` and `Agent` (the robot issue drives those), and ends `Closed` with an
//! [`EndReason`]. Every state change is recorded as a `system` message in the session, in
//! the same transaction as the change.

mod events;
mod ids;
mod queries;
mod records;
mod records_service;
mod report_service;
mod reports;
mod rules;
mod seats;
mod service;
mod session;

pub use events::{
    message_receive_event, message_send_event, message_status_event, message_status_update,
    session_end_events, session_transfer_event, Conclusion,
};
pub use ids::{CallId, CallIdError};
pub use queries::{ChatRecord, ChatRecordQuery, MessageQuery, SessionQuery, SortOrder};
pub use records::{
    agent_filter, page_seat_ids, record_agent, show_records, ChatRecordPage, ChatRecordRequest,
    RecordAgent, ShownRecord,
};
pub use reports::{
    channel_message, check_status_reports, plan_status_reports, reports_status, ChannelMessage,
    ChannelSender, ReportedMessage, ReportedStatus, StatusReport, StatusReportOutcome,
    StatusReportPlan,
};
pub use rules::{
    plan_user_messages, require_closed, require_open, Answerer, InboundMode, Opening, SessionFacts,
    UserMessagesPlan,
};
pub use seats::{close_seats, record_seat, sending_seat};
pub use service::{
    validate_agent_content, AgentSender, ConversationError, Conversations, SessionRef, UserMessage,
    MAX_INBOUND_MESSAGES, MAX_TEXT_CHARS, RECENT_WINDOW,
};
pub use session::{
    ChatUser, EndReason, Inbound, NewSession, Session, SessionChange, SessionState, StoredMessage,
};

use chrono::{DateTime, Utc};

use crate::messages::{Content, Message, MessageStatus, SenderType, SystemEventKind};

/// The `system` message that records a state change, e.g. `conversation.start`.
/// Its id is a long digit string, as in the docs' examples (`172016xxxxxxxx45344`).
pub fn system_message(
    kind: &SystemEventKind,
    from_seat: &str,
    to_seat: &str,
    now: DateTime<Utc>,
) -> Message {
    let content = serde_json::json!({
        "type": "system",
        "system": { "type": kind.as_str(), "from_seat_id": from_seat, "to_seat_id": to_seat },
    });
    Message {
        msg_id: system_message_id(now),
        seat_id: Some(String::new()),
        timestamp: now.timestamp(),
        sender_type: SenderType::System,
        status: Some(MessageStatus::Delivery),
        content: serde_json::from_value::<Content>(content).expect("system content is well-formed"),
        reply: None,
        extra: serde_json::Map::new(),
    }
}

/// Milliseconds then six random digits: 19 digits, sortable by time, unique in practice.
fn system_message_id(now: DateTime<Utc>) -> String {
    format!(
        "{}{:06}",
        now.timestamp_millis(),
        rand::random::<u32>() % 1_000_000
    )
}

/// A fresh message id: 32 lowercase hex.
pub fn new_msg_id() -> String {
    crate::ids::random_hex32()
}

/// The id of the `index`-th (0-based) message of one robot reply: `<turn id>-<index>`,
/// numbered from 0 as in every seed example (`…1885a-0`, `…1885a-1`).
pub fn turn_message_id(turn_id: &str, index: usize) -> String {
    format!("{turn_id}-{index}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;

    #[test]
    fn turn_message_ids_count_from_zero() {
        assert_eq!(turn_message_id("abc", 0), "abc-0");
        assert_eq!(turn_message_id("abc", 2), "abc-2");
    }

    #[test]
    fn system_messages_have_the_documented_shape() {
        let now = from_millis(1_720_160_207_000);
        let m = system_message(&SystemEventKind::Start, "", "", now);
        assert_eq!(m.msg_id.len(), 19);
        assert!(m.msg_id.starts_with("1720160207000"));
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["sender_type"], "system");
        assert_eq!(v["status"], "delivery");
        assert_eq!(v["timestamp"], 1_720_160_207);
        assert_eq!(
            v["content"],
            serde_json::json!({"type":"system","system":{"type":"conversation.start","from_seat_id":"","to_seat_id":""}})
        );
    }
}
