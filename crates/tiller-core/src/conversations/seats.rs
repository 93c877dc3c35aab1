//! Which agent seat a message, a system event or a chat record belongs to.

use super::Session;
use crate::messages::{Message, SenderType};

/// The seat an agent-side message is stored with: the one the send request names, else
/// the seat holding the session, else `""` (no agent has taken it over).
pub fn sending_seat(requested: Option<&str>, session: &Session) -> String {
    requested
        .filter(|s| !s.is_empty())
        .or(session.seat_id.as_deref())
        .unwrap_or_default()
        .to_owned()
}

/// `(from_seat_id, to_seat_id)` of the `conversation.close` that ends `session`: from the
/// seat holding it (or `""`), to nobody.
pub fn close_seats(session: &Session) -> (String, String) {
    (session.seat_id.clone().unwrap_or_default(), String::new())
}

/// The seat an nxlink chat record shows as its agent: the message's own seat, else, for a
/// user's or an agent-side message, the seat holding the session (seed 004: the user's
/// records of a session an agent holds carry that agent). Robot and system messages belong
/// to no agent unless stored with one.
pub fn record_seat(message: &Message, session: &Session) -> Option<String> {
    let own = message.seat_id.as_deref().filter(|s| !s.is_empty());
    let holder = || {
        let human_side = matches!(
            message.sender_type,
            SenderType::User | SenderType::Agent | SenderType::AgentSystem
        );
        session
            .seat_id
            .as_deref()
            .filter(|s| human_side && !s.is_empty())
    };
    own.or_else(holder).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::{
        conversations::{CallId, ChatUser, SessionState},
        TenantId,
    };

    fn session(seat: Option<&str>) -> Session {
        let t = chrono::Utc.timestamp_opt(0, 0).unwrap();
        Session {
            tenant: TenantId(1),
            call_id: CallId::parse("c").unwrap(),
            channel: "WhatsApp".into(),
            channel_id: "b".into(),
            user: ChatUser::default(),
            state: SessionState::Agent,
            end_reason: None,
            seat_id: seat.map(str::to_owned),
            started_at: t,
            ended_at: None,
            updated_at: t,
            report: None,
            robot_id: None,
            robot_state: None,
            answered_seq: 0,
            turn_due: None,
            state_version: 1,
            variables: serde_json::Map::new(),
        }
    }

    fn message(sender: &str, seat: &str) -> Message {
        serde_json::from_value(json!({"msg_id": "m", "seat_id": seat, "timestamp": 1,
            "sender_type": sender, "content": {"type": "text", "text": "x"}}))
        .unwrap()
    }

    #[test]
    fn a_send_uses_the_named_seat_else_the_holder() {
        assert_eq!(sending_seat(Some("677"), &session(Some("708"))), "677");
        assert_eq!(sending_seat(Some(""), &session(Some("708"))), "708");
        assert_eq!(sending_seat(None, &session(Some("708"))), "708");
        assert_eq!(sending_seat(None, &session(None)), "");
    }

    #[test]
    fn close_comes_from_the_holding_seat() {
        assert_eq!(
            close_seats(&session(Some("708"))),
            ("708".into(), String::new())
        );
        assert_eq!(close_seats(&session(None)), (String::new(), String::new()));
    }

    #[test]
    fn records_carry_their_own_seat_else_the_holder_for_the_human_side() {
        let held = session(Some("708"));
        assert_eq!(
            record_seat(&message("agent", "677"), &held).as_deref(),
            Some("677")
        );
        assert_eq!(
            record_seat(&message("user", ""), &held).as_deref(),
            Some("708")
        );
        assert_eq!(
            record_seat(&message("agent", ""), &held).as_deref(),
            Some("708")
        );
        assert_eq!(record_seat(&message("robot", ""), &held), None);
        assert_eq!(record_seat(&message("system", ""), &held), None);
        assert_eq!(record_seat(&message("user", ""), &session(None)), None);
    }
}
