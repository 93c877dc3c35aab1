//! The channel's own reports, on every backend: user messages recorded without a turn,
//! messages the channel sent on its own, and status reports. The rules are core's (unit
//! tests there); these stories pin what the stores keep: idempotency, the session checks,
//! the guarded moves and their callbacks in the same transaction, and that a refusal
//! changes nothing.

use chrono::Duration;
use tiller_core::{
    conversations::{
        InboundMode, ReportedStatus, StatusReport, StatusReportOutcome, StoredMessage,
    },
    messages::MessageStatus,
    robots::{NewRobot, RobotKind},
    store::DynStore,
    webhooks::EventQuery,
    Entity,
};
use tiller_testkit::ManualClock;

use super::{
    conversations::fixtures::{call, conflict, ids, message, not_found, rejected, whatsapp, Scope},
    open, TestDatabase,
};

use MessageStatus::{Delivery, Failed, Read};

on_every_backend!(recorded_user_messages_wait_for_nobody, record_story);
on_every_backend!(
    channel_messages_join_open_sessions_once,
    channel_messages_story
);
on_every_backend!(status_reports_move_forward_once, status_story);

const RECORD: InboundMode = InboundMode::Record;

/// The tenant's events, newest first, as `(type, [(msg_id, status)])`.
async fn events(s: &Scope) -> Vec<(String, Vec<(String, String)>)> {
    let q = EventQuery {
        limit: 100,
        ..EventQuery::default()
    };
    let found = s.store.list_events(s.id, &q).await.unwrap();
    found
        .into_iter()
        .map(|e| {
            let items = e.event.payload["messages"].as_array().cloned();
            let items = items.unwrap_or_default().into_iter().map(|m| {
                let field = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
                (field("msg_id"), field("status"))
            });
            (e.event.event_type, items.collect())
        })
        .collect()
}

async fn record_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let robot = NewRobot {
        name: "bot".into(),
        kind: RobotKind::Flow,
        definition: "name: bot\n".into(),
        flow_id: "f".repeat(32),
        is_default: true,
    };
    store.create_robot(a.id, &robot, a.now()).await.unwrap();

    // Recorded on first contact: the session opens with its robot, nothing is due.
    let recorded = [
        message("u1", "user", a.now()),
        message("u2", "user", a.now()),
    ];
    let first = a.inbound_as(&whatsapp("c1"), &recorded, RECORD).await;
    assert!(first.opened);
    assert_eq!(
        (first.inserted, ids(&first.messages)),
        (2, vec!["u1", "u2"])
    );
    let s = &first.session;
    assert!(s.robot_id.is_some());
    assert_eq!((s.turn_due, s.answered_seq), (None, first.messages[1].seq));
    assert_eq!(a.kinds("c1").await, ["start", "user", "user"]);

    // A retry stores nothing new and returns what is stored.
    let again = a.inbound_as(&whatsapp("c1"), &recorded[..1], RECORD).await;
    assert_eq!((again.inserted, again.opened), (0, false));
    assert_eq!(again.messages[0].seq, first.messages[0].seq);
    assert_eq!(a.messages("c1").await.len(), 3);

    // A message to answer makes the turn due as ever; a recorded one after it skips nothing.
    let asked = a.inbound("c1", &["u3"]).await;
    let due = asked.session.turn_due;
    assert!(due.is_some());
    a.clock.advance(Duration::seconds(5));
    let late = a
        .inbound_as(&whatsapp("c1"), &[message("u4", "user", a.now())], RECORD)
        .await;
    assert_eq!(late.session.turn_due, due, "the due turn keeps its time");
    assert_eq!(late.session.answered_seq, first.messages[1].seq);

    // Nothing is forwarded or enqueued.
    assert!(events(&a).await.is_empty());
}

async fn channel_messages_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let sent = [
        message("ch1", "agent", a.now()),
        message("ch2", "chatbot", a.now()),
    ];
    let record = |call_id: &str, messages: Vec<_>| {
        let (store, a) = (store.clone(), a.clone());
        let call_id = call(call_id);
        async move {
            store
                .record_channel_messages(a.id, &call_id, &messages, a.now())
                .await
        }
    };
    not_found(&record("c1", sent.to_vec()).await, Entity::Session);

    a.inbound("c1", &["m1"]).await;
    a.inbound("c2", &["m2"]).await;
    a.clock.advance(Duration::seconds(3));
    let stored = record("c1", sent.to_vec()).await.unwrap();
    assert_eq!(ids(&stored), ["ch1", "ch2"]);
    assert_eq!(stored[1].message, sent[1], "the body round-trips");
    let session = store.session(a.id, &call("c1")).await.unwrap();
    assert_eq!(session.updated_at, a.now(), "the session saw activity");
    assert_eq!(session.turn_due, None);

    // A retry returns what is stored, mixed with new messages; the id in another session
    // is a conflict and stores nothing of that call.
    let retry = vec![sent[0].clone(), message("ch3", "robot", a.now())];
    let again: Vec<StoredMessage> = record("c1", retry).await.unwrap();
    assert_eq!(again[0].seq, stored[0].seq);
    assert_eq!(ids(&again), ["ch1", "ch3"]);
    conflict(
        record(
            "c2",
            vec![message("ch4", "agent", a.now()), sent[1].clone()],
        )
        .await,
    );
    assert_eq!(a.kinds("c2").await, ["start", "user"]);
    assert_eq!(
        a.kinds("c1").await,
        ["start", "user", "agent", "chatbot", "robot"]
    );

    a.close("c1", tiller_core::conversations::EndReason::Agent)
        .await
        .unwrap();
    let late = vec![message("ch5", "agent", a.now())];
    rejected(record("c1", late).await, "session is closed");
    assert!(
        events(&a).await.is_empty(),
        "no message.send: the channel sent them"
    );
}

fn report(msg_id: &str, status: MessageStatus) -> StatusReport {
    StatusReport {
        msg_id: msg_id.into(),
        status,
    }
}

fn applied(outcome: StatusReportOutcome) -> Vec<(String, MessageStatus, bool)> {
    let StatusReportOutcome::Applied(statuses) = outcome else {
        panic!("expected the report to apply, got {outcome:?}")
    };
    statuses
        .into_iter()
        .map(
            |ReportedStatus {
                 msg_id,
                 status,
                 changed,
             }| (msg_id, status.unwrap(), changed),
        )
        .collect()
}

async fn status_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let b = Scope::new(&store, "B", &a.clock).await;
    let send = |s: &Scope, reports: Vec<StatusReport>| {
        let (store, s) = (store.clone(), s.clone());
        async move {
            store
                .report_statuses(s.id, &call("c1"), &reports, "acme", s.now())
                .await
        }
    };
    not_found(&send(&a, vec![report("g1", Read)]).await, Entity::Session);
    a.inbound("c1", &["u1"]).await;
    for id in ["g1", "g2", "g3"] {
        a.append("c1", &message(id, "agent", a.now()))
            .await
            .unwrap();
    }
    let status = |id: &'static str| {
        let a = a.clone();
        async move {
            let all = a.messages("c1").await;
            let m = all.iter().find(|m| m.message.msg_id == id).unwrap();
            m.message.status.unwrap()
        }
    };

    // Forward moves, grouped by status, one callback each, in the report's transaction.
    a.clock.advance(Duration::seconds(7));
    let got = send(
        &a,
        vec![
            report("g1", Delivery),
            report("g2", Delivery),
            report("g3", Failed),
        ],
    );
    assert_eq!(
        applied(got.await.unwrap()),
        [
            ("g1".into(), Delivery, true),
            ("g2".into(), Delivery, true),
            ("g3".into(), Failed, true)
        ]
    );
    assert_eq!((status("g1").await, status("g3").await), (Delivery, Failed));
    let g1 = a
        .messages("c1")
        .await
        .into_iter()
        .find(|m| m.message.msg_id == "g1");
    assert_eq!(g1.unwrap().updated_at, a.now());
    let pair = |id: &str, s: &str| (id.to_owned(), s.to_owned());
    assert_eq!(
        events(&a).await,
        [
            ("message.status".into(), vec![pair("g3", "failed")]),
            (
                "message.status".into(),
                vec![pair("g1", "delivery"), pair("g2", "delivery")]
            ),
        ],
        "newest first"
    );

    // Backwards and repeated reports change nothing and fire nothing; read goes past all.
    let got = send(
        &a,
        vec![
            report("g1", Failed),
            report("g2", Delivery),
            report("g3", Read),
        ],
    );
    assert_eq!(
        applied(got.await.unwrap()),
        [
            ("g1".into(), Delivery, false),
            ("g2".into(), Delivery, false),
            ("g3".into(), Read, true)
        ]
    );
    assert_eq!(events(&a).await.len(), 3);
    assert_eq!(events(&a).await[0].1, [pair("g3", "read")]);

    // Refused whole: an unknown id, a user message, another tenant's session.
    for bad in [report("nope", Read), report("u1", Read)] {
        let outcome = send(&a, vec![report("g2", Read), bad]).await.unwrap();
        assert!(
            matches!(outcome, StatusReportOutcome::Refused(_)),
            "{outcome:?}"
        );
    }
    assert_eq!(status("g2").await, Delivery, "nothing changed");
    assert_eq!(events(&a).await.len(), 3);
    not_found(&send(&b, vec![report("g2", Read)]).await, Entity::Session);

    // A closed session still takes reports: receipts arrive late.
    a.close("c1", tiller_core::conversations::EndReason::Agent)
        .await
        .unwrap();
    let got = send(&a, vec![report("g2", Read)]).await.unwrap();
    assert_eq!(applied(got), [("g2".into(), Read, true)]);
    assert_eq!(events(&a).await.len(), 4);
    assert_eq!(status("g1").await, Delivery);
}
