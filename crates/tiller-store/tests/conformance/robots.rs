//! Robot stories: robots, the robot-turn lease and compare-and-set session changes, on
//! every backend. The lease is what keeps two tiller nodes from running turns of one
//! session at once; the version check is what keeps a stale turn from being committed.

use chrono::Duration;
use serde_json::json;
use tiller_core::{
    conversations::{system_message, EndReason, Session, SessionChange, SessionState},
    messages::SystemEventKind,
    robots::{NewRobot, RobotKind},
    store::DynStore,
    webhooks::{EventQuery, NewEndpoint, NewEvent},
    Entity, Secret, StoreError,
};
use tiller_testkit::ManualClock;

use super::{
    conversations::fixtures::{call, message, whatsapp, Scope, ANSWER},
    open, TestDatabase,
};

on_every_backend!(robots_and_defaults, robots_story);
on_every_backend!(one_turn_at_a_time, turn_lease_story);
on_every_backend!(agent_side_messages_are_forwarded, forward_story);
on_every_backend!(idle_sessions_are_found, idle_story);
on_every_backend!(messages_during_a_turn_keep_it_due, due_again_story);

pub(crate) fn robot(name: &str, is_default: bool) -> NewRobot {
    NewRobot {
        name: name.into(),
        kind: RobotKind::Flow,
        definition: format!("name: {name}\n"),
        flow_id: "f".repeat(32),
        is_default,
    }
}

/// A change that keeps the session in `state` and says `text` as the robot.
pub(crate) fn turn(
    s: &Session,
    lease: Option<&str>,
    state: SessionState,
    answered: Option<i64>,
) -> SessionChange {
    SessionChange {
        expected_version: s.state_version,
        turn_lease: lease.map(str::to_owned),
        state,
        end_reason: (state == SessionState::Closed).then_some(EndReason::Robot),
        seat_id: None,
        robot_state: Some(json!({"node": "menu", "talk_round": 1})),
        answered_seq: answered,
        messages: vec![message(
            &format!("r-{}", s.state_version),
            "robot",
            s.updated_at,
        )],
        events: vec![NewEvent::new(
            "message.send",
            Some(s.call_id.to_string()),
            json!({}),
        )],
    }
}

async fn robots_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    let first = store
        .create_robot(a.id, &robot("one", true), a.now())
        .await
        .unwrap();
    let second = store
        .create_robot(a.id, &robot("two", true), a.now())
        .await
        .unwrap();
    assert_ne!(first.robot_id, second.robot_id);
    assert!(first.robot_id.parse::<u64>().is_ok());
    let listed = store.robots(a.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.name.as_str(), r.is_default))
            .collect::<Vec<_>>(),
        [("one", false), ("two", true)],
        "one default per tenant"
    );
    assert_eq!(
        store.robot(a.id, &first.robot_id).await.unwrap().definition,
        "name: one\n"
    );
    assert!(matches!(
        store.robot(b.id, &first.robot_id).await,
        Err(StoreError::NotFound(Entity::Robot))
    ));
    assert!(matches!(
        store.robot(a.id, "not-a-number").await,
        Err(StoreError::NotFound(Entity::Robot))
    ));

    // New sessions get the default robot, or the one named; B's sessions get none of A's.
    let opened = a.inbound("c1", &["m1"]).await;
    assert_eq!(
        opened.session.robot_id.as_deref(),
        Some(second.robot_id.as_str())
    );
    assert!(opened.session.turn_due.is_some());
    let mut named = whatsapp("c2");
    named.robot_id = Some(first.robot_id.clone());
    let opened = a.inbound_to(&named, &["m2"]).await;
    assert_eq!(opened.session.robot_id, Some(first.robot_id.clone()));
    let plain = b.inbound("c1", &["b1"]).await;
    assert_eq!(
        (plain.session.robot_id, plain.session.turn_due),
        (None, None)
    );
    let mut foreign = whatsapp("c3");
    foreign.robot_id = Some(first.robot_id);
    let start = system_message(&SystemEventKind::Start, "", "", b.now());
    let refused = store
        .record_inbound(
            b.id,
            &foreign,
            &[message("b2", "user", b.now())],
            &start,
            "acme",
            ANSWER,
            b.now(),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(Entity::Robot))),
        "{refused:?}"
    );
}

async fn turn_lease_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    store
        .create_robot(a.id, &robot("bot", true), a.now())
        .await
        .unwrap();
    let c1 = call("c1");
    let inbound = a.inbound("c1", &["m1"]).await;
    let m1_seq = inbound.messages[0].seq;
    let lease_until = a.now() + Duration::seconds(30);

    // Node A holds the turn; node B can claim it neither directly nor in a batch.
    let held = store
        .claim_turn(a.id, &c1, "node-a", a.now(), lease_until)
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .claim_turn(a.id, &c1, "node-b", a.now(), lease_until)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .claim_due_turns("node-b", a.now(), lease_until, 10)
        .await
        .unwrap()
        .is_empty());
    let pending = store
        .unanswered_messages(a.id, &c1, held.answered_seq)
        .await
        .unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|m| m.message.msg_id.as_str())
            .collect::<Vec<_>>(),
        ["m1"]
    );

    // Only the lease holder commits, and only once.
    let change = turn(&held, Some("node-a"), SessionState::Bot, Some(m1_seq));
    let wrong = SessionChange {
        turn_lease: Some("node-b".into()),
        ..change.clone()
    };
    assert!(store
        .apply_session_change(a.id, &c1, &wrong, a.now())
        .await
        .unwrap()
        .is_none());
    let done = store
        .apply_session_change(a.id, &c1, &change, a.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.answered_seq, done.turn_due), (m1_seq, None));
    assert_eq!(done.state_version, held.state_version + 1);
    assert_eq!(
        done.robot_state,
        Some(json!({"node": "menu", "talk_round": 1}))
    );
    assert!(
        store
            .apply_session_change(a.id, &c1, &change, a.now())
            .await
            .unwrap()
            .is_none(),
        "not twice"
    );
    assert!(
        store
            .claim_turn(a.id, &c1, "node-b", a.now(), lease_until)
            .await
            .unwrap()
            .is_none(),
        "nothing due"
    );

    takeover_after_a_crash(&store, &a).await;
}

/// A new message makes a turn due again. Node A dies holding it; once the lease has run
/// out node B takes it over, and A's late commit is refused.
async fn takeover_after_a_crash(store: &DynStore, a: &Scope) {
    let c1 = call("c1");
    a.clock.advance(Duration::seconds(1));
    a.inbound("c1", &["m2"]).await;
    let stale = store
        .claim_turn(
            a.id,
            &c1,
            "node-a",
            a.now(),
            a.now() + Duration::seconds(30),
        )
        .await
        .unwrap()
        .unwrap();
    a.clock.advance(Duration::seconds(31));
    let taken = store
        .claim_due_turns("node-b", a.now(), a.now() + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let late = turn(&stale, Some("node-a"), SessionState::Bot, None);
    assert!(store
        .apply_session_change(a.id, &c1, &late, a.now())
        .await
        .unwrap()
        .is_none());

    // An agent-side change (no lease) moves the version: B's turn, decided before, is refused.
    let close = SessionChange {
        turn_lease: None,
        end_reason: Some(EndReason::Agent),
        robot_state: None,
        ..turn(&taken[0], None, SessionState::Closed, None)
    };
    let closed = store
        .apply_session_change(a.id, &c1, &close, a.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (closed.state, closed.end_reason, closed.turn_due),
        (SessionState::Closed, Some(EndReason::Agent), None)
    );
    assert_eq!(closed.ended_at, Some(a.now()));
    let b_turn = turn(&taken[0], Some("node-b"), SessionState::Bot, None);
    assert!(store
        .apply_session_change(a.id, &c1, &b_turn, a.now())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store
            .apply_session_change(a.id, &call("nope"), &close, a.now())
            .await,
        Err(StoreError::NotFound(Entity::Session))
    ));
    assert_eq!(
        a.kinds("c1").await,
        ["start", "user", "robot", "user", "robot"]
    );
}

async fn forward_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    store
        .create_robot(a.id, &robot("bot", true), a.now())
        .await
        .unwrap();
    let endpoint = NewEndpoint {
        url: "http://127.0.0.1:9/hook".into(),
        event_types: None,
        secret: Secret::new("whsec_x"),
        encryption_key: None,
    };
    store
        .create_endpoint(a.id, &endpoint, a.now())
        .await
        .unwrap();
    let c1 = call("c1");
    let first = a.inbound("c1", &["m1"]).await;
    let lease_until = a.now() + Duration::seconds(30);
    let held = store
        .claim_turn(a.id, &c1, "n", a.now(), lease_until)
        .await
        .unwrap()
        .unwrap();
    let handoff = turn(
        &held,
        Some("n"),
        SessionState::PendingAgent,
        Some(first.messages[0].seq),
    );
    store
        .apply_session_change(a.id, &c1, &handoff, a.now())
        .await
        .unwrap()
        .unwrap();

    // While the transfer waits, user messages go agent-side: forwarded, never due.
    let start = system_message(&SystemEventKind::Start, "", "", a.now());
    let messages = [
        message("m2", "user", a.now()),
        message("m3", "user", a.now()),
    ];
    let got = store
        .record_inbound(
            a.id,
            &whatsapp("c1"),
            &messages,
            &start,
            "acme",
            ANSWER,
            a.now(),
        )
        .await
        .unwrap();
    assert_eq!(got.session.state, SessionState::PendingAgent);
    assert_eq!(
        (got.session.turn_due, got.session.answered_seq),
        (None, got.messages[1].seq)
    );
    let q = EventQuery {
        limit: 10,
        ..EventQuery::default()
    };
    let events = store.list_events(a.id, &q).await.unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event.event_type.as_str()).collect();
    assert_eq!(types, ["message.receive", "message.send"], "newest first");
    let forwarded = &events[0].event.payload;
    assert_eq!(forwarded["company"], "acme");
    assert_eq!(forwarded["call_id"], "c1");
    let ids: Vec<_> = forwarded["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m2", "m3"]);
    // A retried message is not forwarded twice.
    store
        .record_inbound(
            a.id,
            &whatsapp("c1"),
            &messages,
            &start,
            "acme",
            ANSWER,
            a.now(),
        )
        .await
        .unwrap();
    assert_eq!(store.list_events(a.id, &q).await.unwrap().len(), 2);
}

async fn idle_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    a.inbound("old", &["m1"]).await;
    a.clock.advance(Duration::hours(2));
    a.inbound("new", &["m2"]).await;
    a.inbound("done", &["m3"]).await;
    a.close("done", EndReason::User).await.unwrap();
    let cutoff = a.now() - Duration::hours(1);
    let idle = store.idle_sessions(cutoff, 10).await.unwrap();
    assert_eq!(
        idle.iter().map(|s| s.call_id.as_str()).collect::<Vec<_>>(),
        ["old"]
    );
    assert!(store
        .idle_sessions(cutoff - Duration::hours(2), 10)
        .await
        .unwrap()
        .is_empty());
}

/// A user message that arrives while a turn runs is not answered by it: the turn's change
/// leaves the session due, from the time it first became due, for the next claim.
async fn due_again_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    store
        .create_robot(a.id, &robot("bot", true), a.now())
        .await
        .unwrap();
    let c1 = call("c1");
    let first = a.inbound("c1", &["m1"]).await;
    let due = first.session.turn_due.expect("the robot's turn is due");
    let lease_until = a.now() + Duration::seconds(30);
    let held = store
        .claim_turn(a.id, &c1, "node-a", a.now(), lease_until)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::seconds(1));
    let during = a.inbound("c1", &["m2"]).await;
    assert_eq!(
        during.session.turn_due,
        Some(due),
        "still due from the first message"
    );

    let answered_m1 = turn(
        &held,
        Some("node-a"),
        SessionState::Bot,
        Some(first.messages[0].seq),
    );
    let done = store
        .apply_session_change(a.id, &c1, &answered_m1, a.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.turn_due, Some(due), "m2 still waits");
    let next = store
        .claim_turn(a.id, &c1, "node-b", a.now(), lease_until)
        .await
        .unwrap()
        .expect("the lease was released and the turn is due");
    let answered_m2 = turn(
        &next,
        Some("node-b"),
        SessionState::Bot,
        Some(during.messages[0].seq),
    );
    let done = store
        .apply_session_change(a.id, &c1, &answered_m2, a.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.turn_due, None, "nothing waits");
}
