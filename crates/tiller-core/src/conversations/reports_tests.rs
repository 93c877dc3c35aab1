use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::{
    conversations::{CallId, ChatUser, SessionState},
    TenantId,
};

use MessageStatus::{Delivery, Failed, Read, Sent};

fn session(seat: Option<&str>) -> Session {
    let t = Utc.timestamp_opt(1_000, 0).unwrap();
    Session {
        tenant: TenantId(1),
        call_id: CallId::parse("c1").unwrap(),
        channel: "chatbot".into(),
        channel_id: "biz".into(),
        user: ChatUser {
            id: "u1".into(),
            name: "Ann".into(),
        },
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

fn stored(msg_id: &str, sender: SenderType, status: MessageStatus) -> ReportedMessage {
    ReportedMessage {
        msg_id: msg_id.into(),
        sender_type: sender,
        status: Some(status),
    }
}

fn report(msg_id: &str, status: MessageStatus) -> StatusReport {
    StatusReport {
        msg_id: msg_id.into(),
        status,
    }
}

fn plan(found: &[ReportedMessage], reports: &[StatusReport]) -> Result<StatusReportPlan, String> {
    plan_status_reports("acme", &session(None), found, reports)
}

/// `(msg_id, status, changed)` of every message named.
fn outcome(p: &StatusReportPlan) -> Vec<(&str, MessageStatus, bool)> {
    p.statuses
        .iter()
        .map(|s| (s.msg_id.as_str(), s.status.unwrap(), s.changed))
        .collect()
}

#[test]
fn a_report_moves_a_message_forward_and_plans_its_callback() {
    let found = [stored("a", SenderType::Agent, Sent)];
    let p = plan(&found, &[report("a", Delivery)]).unwrap();
    assert_eq!(outcome(&p), [("a", Delivery, true)]);
    let [change] = p.changes.as_slice() else {
        panic!("{:?}", p.changes)
    };
    assert_eq!(change.status, Delivery);
    assert_eq!(change.replaces, replaced_statuses(Delivery));
    assert_eq!(change.update.msg_ids, ["a"]);
    let now = Utc.timestamp_opt(2_000, 0).unwrap();
    let callbacks = change.callbacks(1, now);
    assert_eq!(callbacks.len(), 1);
    assert_eq!(
        callbacks[0].payload,
        json!({"event": "message.status", "call_id": "c1", "company": "acme",
            "channel": "chatbot", "channel_id": "biz", "user": {"id": "u1", "name": "Ann"},
            "messages": [{"msg_id": "a", "status": "delivery", "timestamp": 2_000}]})
    );
}

#[test]
fn a_backwards_or_repeated_status_changes_nothing() {
    for (now, reported) in [(Read, Delivery), (Delivery, Delivery), (Delivery, Failed)] {
        let found = [stored("a", SenderType::Robot, now)];
        let p = plan(&found, &[report("a", reported)]).unwrap();
        assert_eq!(outcome(&p), [("a", now, false)], "{now:?} ← {reported:?}");
        assert!(
            p.changes.is_empty(),
            "no callback for {now:?} ← {reported:?}"
        );
    }
}

#[test]
fn several_reports_on_one_message_move_it_once() {
    let found = [stored("a", SenderType::Agent, Sent)];
    let p = plan(&found, &[report("a", Delivery), report("a", Read)]).unwrap();
    assert_eq!(outcome(&p), [("a", Read, true)]);
    assert_eq!(p.changes.len(), 1, "one change, sent → read");
    assert_eq!(p.changes[0].status, Read);
    // Out of order: `read` first, the late `delivery` is ignored.
    let p = plan(&found, &[report("a", Read), report("a", Delivery)]).unwrap();
    assert_eq!(outcome(&p), [("a", Read, true)]);
    // There and back is no change at all.
    let failed = [stored("a", SenderType::Agent, Failed)];
    let p = plan(&failed, &[report("a", Failed)]).unwrap();
    assert!(p.changes.is_empty());
}

#[test]
fn moves_are_grouped_by_status_in_the_order_first_named() {
    let found = [
        stored("a", SenderType::Agent, Sent),
        stored("b", SenderType::Chatbot, Sent),
        stored("c", SenderType::AgentSystem, Delivery),
        stored("d", SenderType::Robot, Read),
    ];
    let reports = [
        report("c", Read),
        report("a", Delivery),
        report("d", Failed),
        report("b", Delivery),
    ];
    let p = plan(&found, &reports).unwrap();
    assert_eq!(
        outcome(&p),
        [
            ("c", Read, true),
            ("a", Delivery, true),
            ("d", Read, false),
            ("b", Delivery, true)
        ]
    );
    let groups: Vec<(MessageStatus, Vec<&str>)> = p
        .changes
        .iter()
        .map(|c| {
            (
                c.status,
                c.update.msg_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(groups, [(Read, vec!["c"]), (Delivery, vec!["a", "b"])]);
}

#[test]
fn unknown_and_unreportable_messages_refuse_the_whole_report() {
    let found = [
        stored("a", SenderType::Agent, Sent),
        stored("u", SenderType::User, Delivery),
        stored("s", SenderType::System, Delivery),
    ];
    assert_eq!(
        plan(&found, &[report("a", Read), report("zz", Read)]).unwrap_err(),
        "msg_id zz names no message of session c1"
    );
    assert_eq!(
        plan(&found, &[report("u", Read)]).unwrap_err(),
        "msg_id u is a user message; a channel reports the status of messages sent to the user"
    );
    assert!(plan(&found, &[report("s", Read)])
        .unwrap_err()
        .starts_with("msg_id s is a system message"));
    for sender in [
        SenderType::Robot,
        SenderType::Agent,
        SenderType::AgentSystem,
        SenderType::Chatbot,
    ] {
        assert!(reports_status(sender), "{sender:?}");
    }
}

#[test]
fn a_report_needs_a_status_a_channel_can_see() {
    assert!(check_status_reports(&[report("a", Delivery), report("b", Failed)]).is_ok());
    assert_eq!(
        check_status_reports(&[report("a", Read), report("b", Sent)]).unwrap_err(),
        "messages[1].status must be delivery, read or failed, not sent"
    );
    assert_eq!(
        check_status_reports(&[]).unwrap_err(),
        "messages must hold at least one status"
    );
}

fn text(t: &str) -> Content {
    serde_json::from_value(json!({"type": "text", "text": t})).unwrap()
}

#[test]
fn a_channel_message_is_stored_as_its_sender_sent_it() {
    let now = Utc.timestamp_opt(5_000, 0).unwrap();
    let held = session(Some("seat-7"));
    let plain = ChannelMessage {
        content: text("hi"),
        msg_id: None,
        timestamp: None,
        status: None,
    };
    let agent = channel_message(0, plain.clone(), ChannelSender::Agent, None, &held, now).unwrap();
    assert_eq!(agent.sender_type, SenderType::Agent);
    assert_eq!(agent.msg_id.len(), 32, "a fresh id");
    assert_eq!(agent.timestamp, 5_000);
    assert_eq!(agent.status, Some(Sent));
    assert_eq!(agent.seat_id.as_deref(), Some("seat-7"), "the holding seat");
    let robot = channel_message(0, plain.clone(), ChannelSender::Robot, None, &held, now).unwrap();
    assert_eq!(robot.seat_id.as_deref(), Some(""), "a robot holds no seat");

    let given = ChannelMessage {
        msg_id: Some("ch-1".into()),
        timestamp: Some(4_000),
        status: Some(Delivery),
        ..plain
    };
    let chatbot =
        channel_message(0, given, ChannelSender::Chatbot, Some("s2"), &held, now).unwrap();
    assert_eq!(
        (chatbot.msg_id.as_str(), chatbot.timestamp, chatbot.status),
        ("ch-1", 4_000, Some(Delivery))
    );
    assert_eq!(chatbot.sender_type, SenderType::Chatbot);
    assert_eq!(chatbot.seat_id.as_deref(), Some("s2"));
}

#[test]
fn a_channel_cannot_report_a_system_event() {
    let system: Content = serde_json::from_value(json!({"type": "system",
        "system": {"type": "conversation.close", "from_seat_id": "", "to_seat_id": ""}}))
    .unwrap();
    let m = ChannelMessage {
        content: system,
        msg_id: None,
        timestamp: None,
        status: None,
    };
    let now = Utc.timestamp_opt(5_000, 0).unwrap();
    assert_eq!(
        channel_message(3, m, ChannelSender::Agent, None, &session(None), now).unwrap_err(),
        "messages[3] is a system event; Tiller records a session's system events"
    );
}
