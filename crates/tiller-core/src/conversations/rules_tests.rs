use super::*;
use crate::clock::from_millis;

fn facts(state: SessionState, has_robot: bool) -> SessionFacts {
    SessionFacts {
        state,
        has_robot,
        turn_due: None,
        answered_seq: 4,
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    from_millis(ms)
}

const ANSWER: InboundMode = InboundMode::Answer;
const RECORD: InboundMode = InboundMode::Record;

#[test]
fn new_messages_go_to_the_robot_only_in_bot_with_a_robot() {
    use SessionState::*;
    assert_eq!(facts(Bot, true).answerer(), Answerer::Robot);
    assert_eq!(facts(Bot, false).answerer(), Answerer::Nobody);
    assert_eq!(facts(PendingAgent, true).answerer(), Answerer::Agent);
    assert_eq!(facts(Agent, false).answerer(), Answerer::Agent);
    assert_eq!(facts(Closed, true).answerer(), Answerer::Nobody);
}

#[test]
fn a_robot_session_gets_a_due_turn_and_keeps_the_first_due_time() {
    let fresh = plan_user_messages(&facts(SessionState::Bot, true), Some(9), ANSWER, at(2_000));
    assert_eq!(fresh.turn_due, Some(at(2_000)));
    assert_eq!(fresh.answered_seq, 4, "the robot has not answered yet");
    let waiting = SessionFacts {
        turn_due: Some(at(1_000)),
        ..facts(SessionState::Bot, true)
    };
    let again = plan_user_messages(&waiting, Some(10), ANSWER, at(3_000));
    assert_eq!(again.turn_due, Some(at(1_000)));
}

#[test]
fn the_agent_side_counts_new_messages_as_answered_and_forwards_them() {
    for state in [SessionState::PendingAgent, SessionState::Agent] {
        let plan = plan_user_messages(&facts(state, true), Some(9), ANSWER, at(2_000));
        assert_eq!(plan.answered_seq, 9);
        assert_eq!(plan.turn_due, None);
        assert!(plan.forward);
    }
}

#[test]
fn retries_and_robotless_sessions_change_nothing() {
    let retry = plan_user_messages(&facts(SessionState::Agent, true), None, ANSWER, at(2_000));
    assert_eq!((retry.answered_seq, retry.turn_due), (4, None));
    assert!(!retry.forward);
    let plain = plan_user_messages(&facts(SessionState::Bot, false), Some(9), ANSWER, at(2_000));
    assert_eq!((plain.answered_seq, plain.turn_due), (4, None));
    assert!(!plain.forward);
}

#[test]
fn recorded_messages_count_as_answered_and_go_to_nobody() {
    use SessionState::*;
    for (state, has_robot) in [
        (Bot, true),
        (Bot, false),
        (PendingAgent, true),
        (Agent, false),
    ] {
        let plan = plan_user_messages(&facts(state, has_robot), Some(9), RECORD, at(2_000));
        assert_eq!(plan.answered_seq, 9, "{state:?}");
        assert_eq!(plan.turn_due, None, "no turn becomes due in {state:?}");
        assert!(!plan.forward, "the channel already has them ({state:?})");
    }
    assert!(!RECORD.forwards(Answerer::Agent) && ANSWER.forwards(Answerer::Agent));
    assert!(!ANSWER.forwards(Answerer::Robot) && !ANSWER.forwards(Answerer::Nobody));
    // A retry of recorded messages changes nothing either.
    let retry = plan_user_messages(&facts(Bot, true), None, RECORD, at(2_000));
    assert_eq!((retry.answered_seq, retry.turn_due), (4, None));
}

#[test]
fn recorded_messages_never_skip_messages_the_robot_has_yet_to_answer() {
    let waiting = SessionFacts {
        turn_due: Some(at(1_000)),
        ..facts(SessionState::Bot, true)
    };
    let plan = plan_user_messages(&waiting, Some(9), RECORD, at(2_000));
    assert_eq!(plan.answered_seq, 4, "the waiting messages stay unanswered");
    assert_eq!(
        plan.turn_due,
        Some(at(1_000)),
        "the due turn keeps its time"
    );
    assert!(!plan.forward);
}

#[test]
fn a_turn_is_due_after_a_change_only_while_the_robot_has_messages_waiting() {
    let bot = SessionFacts {
        turn_due: Some(at(1_000)),
        ..facts(SessionState::Bot, true)
    };
    assert_eq!(bot.turn_due(true, at(5_000)), Some(at(1_000)));
    assert_eq!(bot.turn_due(false, at(5_000)), None);
    let handed_over = SessionFacts {
        state: SessionState::PendingAgent,
        ..bot
    };
    assert_eq!(handed_over.turn_due(true, at(5_000)), None);
    assert_eq!(
        facts(SessionState::Bot, true).turn_due(true, at(5_000)),
        Some(at(5_000))
    );
}

#[test]
fn a_call_opens_an_absent_session_and_reopens_a_closed_one() {
    assert_eq!(Opening::of(None), Opening::Open);
    assert_eq!(Opening::of(Some(SessionState::Closed)), Opening::Reopen);
    for open in [
        SessionState::Bot,
        SessionState::PendingAgent,
        SessionState::Agent,
    ] {
        assert_eq!(Opening::of(Some(open)), Opening::Continue);
    }
    assert!(Opening::Open.opens() && Opening::Reopen.opens());
    assert!(!Opening::Continue.opens());
}

#[test]
fn only_open_sessions_take_messages_and_only_closed_ones_reports() {
    assert!(require_open(SessionState::Agent).is_ok());
    assert!(matches!(
        require_open(SessionState::Closed),
        Err(StoreError::Rejected(why)) if why == "session is closed"
    ));
    assert!(require_closed(SessionState::Closed).is_ok());
    assert!(matches!(
        require_closed(SessionState::Bot),
        Err(StoreError::Rejected(why)) if why == "session is still open"
    ));
}

#[test]
fn only_forwarded_messages_become_a_message_receive_event() {
    use crate::conversations::{CallId, ChatUser};
    let session = Session {
        tenant: crate::TenantId(1),
        call_id: CallId::parse("c1").unwrap(),
        channel: "WhatsApp".into(),
        channel_id: "biz".into(),
        user: ChatUser {
            id: "u1".into(),
            name: "Ann".into(),
        },
        state: SessionState::Agent,
        end_reason: None,
        seat_id: Some("seat-1".into()),
        started_at: at(0),
        ended_at: None,
        updated_at: at(0),
        report: None,
        robot_id: None,
        robot_state: None,
        answered_seq: 4,
        turn_due: None,
        state_version: 1,
        variables: serde_json::Map::new(),
    };
    let text: crate::messages::Content =
        serde_json::from_value(serde_json::json!({"type": "text", "text": "hi"})).unwrap();
    let message = Message {
        msg_id: "m1".into(),
        seat_id: Some(String::new()),
        timestamp: 0,
        sender_type: crate::messages::SenderType::User,
        status: None,
        content: text,
        reply: None,
        extra: serde_json::Map::new(),
    };
    let new = [message];
    let forwarded = plan_user_messages(&SessionFacts::from(&session), Some(9), ANSWER, at(1));
    let events = forwarded.events("acme", &session, &new);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "message.receive");
    assert_eq!(events[0].payload["company"], "acme");
    assert_eq!(events[0].payload["messages"][0]["msg_id"], "m1");
    assert!(forwarded.events("acme", &session, &[]).is_empty());
    let bot = SessionFacts {
        state: SessionState::Bot,
        has_robot: true,
        ..SessionFacts::from(&session)
    };
    assert!(plan_user_messages(&bot, Some(9), ANSWER, at(1))
        .events("acme", &session, &new)
        .is_empty());
}
