//! Bursts of inbound messages, as a busy channel sends them: many sessions at once, retries
//! racing their originals, two tenants using the same ids, a session reopening and a
//! message id stolen from another session, all in flight together. PostgreSQL carries
//! such a burst in shared transactions; every request must still get exactly the outcome
//! it would get alone.

use std::collections::{HashMap, HashSet};

use tiller_core::{
    conversations::{system_message, EndReason, Inbound, SessionChange, SessionState},
    messages::SystemEventKind,
    store::DynStore,
    webhooks::{DeliveryState, EventQuery},
    Entity, TenantId,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use crate::conversations::fixtures::{
    call, conflict, ids, not_found, user, whatsapp, Scope, ANSWER,
};
use crate::webhooks::fixtures::endpoint;

on_every_backend!(inbound_bursts_keep_each_outcome, inbound_burst_story);

const SESSIONS: usize = 12;
const ROUNDS: usize = 4;

async fn inbound_burst_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    let hook = endpoint(&a, "hook", None).await;
    a.inbound("old", &["old-0"]).await;
    a.inbound("closed", &["closed-0"]).await;
    a.close("closed", EndReason::User).await.unwrap();
    // A's burst sessions are with an agent, so their messages go out as `message.receive`;
    // B's open in the burst, with nobody to answer.
    for s in 0..SESSIONS {
        let call_id = format!("s{s}");
        a.inbound(&call_id, &[&format!("{call_id}-pre")]).await;
        to_agent(&a, &call_id).await;
    }

    let (results, extra) = burst(&a, &b).await;
    not_found(&store.session(a.id, &call("thief")).await, Entity::Session);
    check_outcomes(&results, &extra, b.id);
    check_sessions(&a, &b).await;
    check_events(&a, &b, &hook.id).await;
}

/// One burst's outcome: `(tenant, call_id, msg_id, outcome)`.
type Outcomes = Vec<(TenantId, String, String, Inbound)>;

/// Every message twice (a retry racing its original), in both tenants, with `old` and
/// `closed` getting one more each and a thief trying `old`'s first message id; returns
/// the outcomes of the doubles and of the two more.
async fn burst(a: &Scope, b: &Scope) -> (Outcomes, Vec<Inbound>) {
    let mut tasks = Vec::new();
    for round in 0..ROUNDS {
        for s in 0..SESSIONS {
            for scope in [a, b] {
                for _copy in 0..2 {
                    let scope: Scope = scope.clone();
                    let (call_id, msg_id) = (format!("s{s}"), format!("s{s}-m{round}"));
                    tasks.push(tokio::spawn(async move {
                        let inbound = scope.inbound(&call_id, &[&msg_id]).await;
                        (scope.id, call_id, msg_id, inbound)
                    }));
                }
            }
        }
    }
    let more = [("old", "old-1"), ("closed", "closed-1")];
    let extra: Vec<_> = more
        .into_iter()
        .map(|(c, m)| {
            let a = a.clone();
            tokio::spawn(async move { a.inbound(c, &[m]).await })
        })
        .collect();
    let thief = {
        let a = a.clone();
        tokio::spawn(async move {
            let start = system_message(&SystemEventKind::Start, "", "", a.now());
            let stolen = [user("old-0", a.now())];
            let new = whatsapp("thief");
            let r = a
                .store
                .record_inbound(a.id, &new, &stolen, &start, "acme", ANSWER, a.now());
            r.await
        })
    };

    let results = join(tasks).await;
    let extra = join(extra).await;
    conflict(thief.await.unwrap());
    (results, extra)
}

/// Each session opened once; each message inserted once, and its retry saw the same row.
fn check_outcomes(results: &Outcomes, extra: &[Inbound], b: TenantId) {
    let mut opened = HashSet::new();
    let mut seen: HashMap<(TenantId, String), (usize, _)> = HashMap::new();
    for (tenant, call_id, msg_id, inbound) in results {
        assert_eq!(inbound.session.call_id.as_str(), call_id.as_str());
        assert_eq!(inbound.session.tenant, *tenant);
        if inbound.opened {
            assert!(
                opened.insert((*tenant, call_id.clone())),
                "{call_id} opened twice"
            );
        }
        assert_eq!(ids(&inbound.messages), [msg_id.as_str()]);
        let entry = seen
            .entry((*tenant, msg_id.clone()))
            .or_insert((0, inbound.messages[0].clone()));
        entry.0 += inbound.inserted;
        assert_eq!(
            entry.1, inbound.messages[0],
            "{msg_id}: a retry saw another row"
        );
    }
    assert_eq!(
        opened.len(),
        SESSIONS,
        "only B's sessions open in the burst"
    );
    assert!(opened.iter().all(|(t, _)| *t == b));
    assert!(seen.values().all(|(inserted, _)| *inserted == 1));
    assert!(extra.iter().all(|i| i.inserted == 1));
    assert!(
        !extra[0].opened && extra[1].opened,
        "closed reopens, old does not"
    );
}

/// An agent's session is answered up to its last message; nobody answers B's.
async fn check_sessions(a: &Scope, b: &Scope) {
    for (scope, before) in [(a, 1), (b, 0)] {
        for s in 0..SESSIONS {
            let call_id = format!("s{s}");
            let stored = scope.messages(&call_id).await;
            let users = stored
                .iter()
                .filter(|m| m.message.sender_type.as_str() == "user");
            assert_eq!(users.count(), before + ROUNDS, "{call_id}");
            let answered = if scope.id == a.id {
                stored.last().unwrap().seq
            } else {
                0
            };
            assert_eq!(
                scope.session(&call_id).await.answered_seq,
                answered,
                "{call_id}"
            );
        }
    }
    assert_eq!(a.kinds("old").await, ["start", "user", "user"]);
    let reopened = a.kinds("closed").await;
    assert_eq!(reopened, ["start", "user", "close", "start", "user"]);
}

/// One `message.receive` per message inserted in the burst, in each session's message
/// order, each with one delivery to A's endpoint; B's sessions forward nothing.
async fn check_events(a: &Scope, b: &Scope, hook: &str) {
    let received = receive_events(a).await;
    assert_eq!(received.len(), SESSIONS * ROUNDS);
    for s in 0..SESSIONS {
        let call_id = format!("s{s}");
        let in_events: Vec<&str> = received
            .iter()
            .filter(|(c, ..)| *c == call_id)
            .map(|(_, m, _)| m.as_str())
            .collect();
        let stored = a.messages(&call_id).await;
        let burst: Vec<&str> = ids(&stored).into_iter().skip(2).collect();
        assert_eq!(in_events, burst, "{call_id}: events follow the messages");
    }
    for (_, msg_id, deliveries) in &received {
        let want = vec![(hook.to_owned(), DeliveryState::Pending, 0)];
        assert_eq!(deliveries, &want, "{msg_id}");
    }
    assert!(receive_events(b).await.is_empty());
}

/// Hands the session to an agent, as a transfer does.
async fn to_agent(s: &Scope, call_id: &str) {
    let session = s.session(call_id).await;
    let change = SessionChange {
        expected_version: session.state_version,
        turn_lease: None,
        state: SessionState::Agent,
        end_reason: None,
        seat_id: Some("seat-1".into()),
        robot_state: None,
        answered_seq: None,
        messages: Vec::new(),
        events: Vec::new(),
    };
    let id = call(call_id);
    let applied = s.store.apply_session_change(s.id, &id, &change, s.now());
    assert!(applied.await.unwrap().is_some());
}

/// The tenant's `message.receive` events, oldest first, as `(call_id, msg_id, deliveries)`.
async fn receive_events(s: &Scope) -> Vec<(String, String, Vec<(String, DeliveryState, u32)>)> {
    let q = EventQuery {
        limit: 100,
        ..EventQuery::default()
    };
    let mut found = s.store.list_events(s.id, &q).await.unwrap();
    found.reverse();
    found
        .into_iter()
        .filter(|e| e.event.event_type == "message.receive")
        .map(|e| {
            let messages = e.event.payload["messages"].as_array().unwrap().clone();
            assert_eq!(messages.len(), 1);
            let msg_id = messages[0]["msg_id"].as_str().unwrap().to_owned();
            let key = e.event.ordering_key.clone().unwrap();
            (key, msg_id, e.deliveries)
        })
        .collect()
}

async fn join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
