use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{
    disabled_reason, plan_disable, plan_finish, replaced_statuses, DeliverySnapshot, FailureRun,
    FinishPlan, MessageStatusChange,
};
use crate::{
    clock::from_millis,
    conversations::CallId,
    jobs::{JobChange, JobSnapshot, JobState},
    messages::MessageStatus,
    webhooks::{event_types, AttemptRecord, Endpoint, MessageStatusUpdate, Outcome},
    TenantId,
};

fn t(ms: i64) -> DateTime<Utc> {
    from_millis(1_744_699_260_000 + ms)
}

fn update(notify: bool) -> MessageStatusUpdate {
    MessageStatusUpdate {
        call_id: CallId::parse("c1").unwrap(),
        msg_ids: vec!["m1".into(), "m2".into()],
        notify: notify.then(|| json!({"event": "message.status", "call_id": "c1"})),
    }
}

/// The latest claim (attempt 2) of a pending delivery to a healthy endpoint.
fn snapshot() -> DeliverySnapshot {
    DeliverySnapshot {
        tenant: TenantId(7),
        event_id: "ev".into(),
        endpoint_id: "ep".into(),
        job: JobSnapshot {
            state: JobState::Pending,
            attempts: 2,
            due_at: t(0),
            leased: true,
        },
        on_outcome: Some(update(true)),
        failing_since: None,
    }
}

fn attempt() -> AttemptRecord {
    AttemptRecord {
        delivery_id: 9,
        event_id: "from the caller".into(),
        endpoint_id: "from the caller".into(),
        attempt: 2,
        started_at: t(1_000),
        status_code: Some(500),
        latency_ms: 12,
        response_excerpt: "oops".into(),
        error: None,
        outcome: "from the caller".into(),
    }
}

fn finish(snapshot: DeliverySnapshot, outcome: &Outcome) -> FinishPlan {
    plan_finish(snapshot, &attempt(), outcome)
}

fn failing(since: DateTime<Utc>) -> DeliverySnapshot {
    DeliverySnapshot {
        failing_since: Some(since),
        ..snapshot()
    }
}

#[test]
fn the_log_names_the_deliverys_event_and_endpoint_and_the_outcome() {
    let plan = finish(snapshot(), &Outcome::Dead);
    assert_eq!(plan.tenant, TenantId(7));
    let expected = AttemptRecord {
        event_id: "ev".into(),
        endpoint_id: "ep".into(),
        outcome: "dead".into(),
        ..attempt()
    };
    assert_eq!(plan.log, expected);
    let label = |o: &Outcome| finish(snapshot(), o).log.outcome;
    assert_eq!(label(&Outcome::Delivered), "delivered");
    assert_eq!(label(&Outcome::Retry { at: t(5) }), "retry");
}

#[test]
fn a_stale_attempt_is_logged_and_changes_nothing_else() {
    let with_job = |base: DeliverySnapshot, change: fn(&mut JobSnapshot)| {
        let mut s = base;
        change(&mut s.job);
        s
    };
    let re_leased = with_job(failing(t(0)), |j| j.attempts = 3);
    let settled = with_job(snapshot(), |j| j.state = JobState::Done);
    let dead = with_job(snapshot(), |j| j.state = JobState::Dead);
    let finished = with_job(snapshot(), |j| j.leased = false);
    for stale in [re_leased, settled, dead, finished] {
        for outcome in [
            Outcome::Delivered,
            Outcome::Dead,
            Outcome::Retry { at: t(5) },
        ] {
            let plan = finish(stale.clone(), &outcome);
            assert!(!plan.is_current());
            assert_eq!(
                (plan.delivery, plan.failure_run, plan.messages),
                (None, None, None)
            );
            assert_eq!(plan.log.outcome, outcome.label());
        }
    }
}

#[test]
fn a_retry_waits_until_its_time_and_leaves_messages_alone() {
    let plan = finish(snapshot(), &Outcome::Retry { at: t(5_000) });
    assert!(plan.is_current());
    let pending = JobChange {
        state: JobState::Pending,
        due_at: t(5_000),
        attempts: 2,
    };
    assert_eq!(plan.delivery, Some(pending));
    assert_eq!(plan.messages, None);
}

#[test]
fn delivered_and_dead_end_the_delivery_and_set_message_statuses() {
    let delivered = finish(snapshot(), &Outcome::Delivered);
    let ended = |state| {
        Some(JobChange {
            state,
            due_at: t(0),
            attempts: 2,
        })
    };
    assert_eq!(delivered.delivery, ended(JobState::Done));
    let change = delivered.messages.unwrap();
    assert_eq!(change.update, update(true));
    assert_eq!(
        (change.status, change.replaces),
        (
            MessageStatus::Delivery,
            &[MessageStatus::Sent, MessageStatus::Failed][..]
        )
    );

    let dead = finish(snapshot(), &Outcome::Dead);
    assert_eq!(dead.delivery, ended(JobState::Dead));
    let change = dead.messages.unwrap();
    assert_eq!(
        (change.status, change.replaces),
        (MessageStatus::Failed, &[MessageStatus::Sent][..])
    );
}

#[test]
fn an_event_without_messages_sets_no_status() {
    let none = DeliverySnapshot {
        on_outcome: None,
        ..snapshot()
    };
    assert_eq!(finish(none, &Outcome::Delivered).messages, None);
    let empty = DeliverySnapshot {
        on_outcome: Some(MessageStatusUpdate {
            msg_ids: Vec::new(),
            ..update(true)
        }),
        ..snapshot()
    };
    assert_eq!(finish(empty, &Outcome::Dead).messages, None);
}

#[test]
fn statuses_never_go_backwards() {
    use MessageStatus::{Delivery, Failed, Read, Sent};
    assert_eq!(replaced_statuses(Delivery), [Sent, Failed]);
    assert_eq!(replaced_statuses(Failed), [Sent]);
    assert_eq!(replaced_statuses(Read), [Sent, Failed, Delivery]);
    let all = [Sent, Delivery, Read, Failed];
    for status in all {
        assert!(!replaced_statuses(status).contains(&Read), "{status:?}");
        assert!(!replaced_statuses(status).contains(&status), "{status:?}");
    }
    assert!(replaced_statuses(Sent).is_empty());
    // Transitive: a → b → c means a → c, so a run of moves collapses into one.
    for (a, b, c) in all
        .iter()
        .flat_map(|a| all.iter().flat_map(move |b| all.map(|c| (*a, *b, c))))
    {
        if replaced_statuses(b).contains(&a) && replaced_statuses(c).contains(&b) {
            assert!(replaced_statuses(c).contains(&a), "{a:?} → {b:?} → {c:?}");
        }
    }
}

#[test]
fn the_first_failure_starts_a_run_and_any_success_ends_it() {
    let run = |s: DeliverySnapshot, o: &Outcome| finish(s, o).failure_run;
    let retry = Outcome::Retry { at: t(5_000) };
    assert_eq!(
        run(snapshot(), &retry),
        Some(FailureRun::Start(t(1_000))),
        "the run starts at the attempt"
    );
    assert_eq!(
        run(snapshot(), &Outcome::Dead),
        Some(FailureRun::Start(t(1_000)))
    );
    assert_eq!(run(failing(t(0)), &retry), None, "a run keeps its start");
    assert_eq!(run(failing(t(0)), &Outcome::Dead), None);
    assert_eq!(
        run(failing(t(0)), &Outcome::Delivered),
        Some(FailureRun::End)
    );
    assert_eq!(
        run(snapshot(), &Outcome::Delivered),
        None,
        "a healthy endpoint's row is not rewritten"
    );
}

#[test]
fn one_callback_per_real_transition() {
    let now = t(2_000);
    let change = MessageStatusChange {
        update: update(true),
        status: MessageStatus::Delivery,
        replaces: replaced_statuses(MessageStatus::Delivery),
    };
    let events = change.callbacks(2, now);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_type, event_types::MESSAGE_STATUS);
    assert_eq!(e.ordering_key.as_deref(), Some("c1"));
    let ts = now.timestamp();
    assert_eq!(
        e.payload,
        json!({"event": "message.status", "call_id": "c1", "messages": [
            {"msg_id": "m1", "status": "delivery", "timestamp": ts},
            {"msg_id": "m2", "status": "delivery", "timestamp": ts},
        ]})
    );
    assert!(change.callbacks(0, now).is_empty(), "nothing moved");
    let quiet = MessageStatusChange {
        update: update(false),
        ..change
    };
    assert!(quiet.callbacks(2, now).is_empty(), "no report asked for");
}

fn endpoint(id: &str, enabled: bool, failing_since: Option<DateTime<Utc>>) -> Endpoint {
    Endpoint {
        id: id.into(),
        tenant: TenantId(if id.starts_with('b') { 2 } else { 1 }),
        url: format!("https://{id}.test/hook"),
        event_types: None,
        secrets: Vec::new(),
        enabled,
        encryption_key: None,
        failing_since,
        disabled_reason: None,
        created_at: t(0),
        updated_at: t(0),
    }
}

#[test]
fn endpoints_failing_since_the_cutoff_are_disabled_in_order() {
    let cutoff = t(0) + Duration::minutes(5);
    let endpoints = [
        endpoint("a-long", true, Some(t(0))),
        endpoint("a-recent", true, Some(cutoff + Duration::seconds(1))),
        endpoint("a-healthy", true, None),
        endpoint("a-off", false, Some(t(0))),
        endpoint("b-edge", true, Some(cutoff)),
    ];
    let plan = plan_disable(&endpoints, cutoff);
    let ids: Vec<_> = plan.iter().map(|d| d.endpoint_id.as_str()).collect();
    assert_eq!(ids, ["a-long", "b-edge"]);
    assert_eq!((plan[0].tenant, plan[1].tenant), (TenantId(1), TenantId(2)));
    assert_eq!(plan[0].reason, "failing since 2025-04-15T06:41:00Z");
    assert_eq!(plan[1].reason, "failing since 2025-04-15T06:46:00Z");
    let event = &plan[0].event;
    assert_eq!(
        (event.event_type.as_str(), &event.ordering_key),
        (event_types::ENDPOINT_DISABLED, &None)
    );
    assert_eq!(
        event.payload,
        json!({"event": "endpoint.disabled", "endpoint_id": "a-long",
               "url": "https://a-long.test/hook", "failing_since": t(0).timestamp()})
    );
    assert!(plan_disable(&endpoints[1..4], cutoff).is_empty());
}

#[test]
fn the_disabled_reason_names_the_start_of_the_failures() {
    assert_eq!(
        disabled_reason(from_millis(1_744_699_260_000)),
        "failing since 2025-04-15T06:41:00Z"
    );
}
