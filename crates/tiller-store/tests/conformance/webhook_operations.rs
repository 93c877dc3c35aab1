//! Webhook stories about what happens around deliveries: failing endpoints disabled,
//! replays, message statuses following delivery outcomes, and tenancy.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tiller_core::{
    conversations::{message_send_event, EndReason},
    messages::{Message, MessageStatus},
    store::DynStore,
    webhooks::{
        event_types::{ENDPOINT_DISABLED, MESSAGE_SEND},
        DeliveryState, EndpointPatch, EventQuery, MessageStatusUpdate, Outcome,
    },
    Entity,
};
use tiller_testkit::ManualClock;

use super::fixtures::{
    endpoint, enqueue, event_names, events, pings, retry_at, secret, tags, url, Scope, Worker,
};
use super::{enabled, open, TestDatabase};
use crate::conversations::fixtures::{call, message, not_found, rejected};

on_every_backend!(
    failing_endpoints_are_disabled_with_an_event,
    auto_disable_story
);
on_every_backend!(replays_send_events_again, replay_story);
on_every_backend!(delivery_outcomes_set_message_statuses, message_status_story);
on_every_backend!(webhook_tenants_never_see_each_other, isolation_story);

async fn auto_disable_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    let worker = Worker::new(&store, &clock);
    let t0 = a.now();
    let flaky = endpoint(&a, "flaky", None).await;
    let ops = endpoint(&a, "ops", Some(&[ENDPOINT_DISABLED])).await;
    endpoint(&a, "pings", Some(&["test.ping"])).await;
    let b_flaky = endpoint(&b, "bflaky", Some(&["test.ping"])).await;
    let b_ops = endpoint(&b, "bops", Some(&[ENDPOINT_DISABLED])).await;
    enqueue(&a, &pings(&["a1"])).await;
    enqueue(&b, &pings(&["b1"])).await;
    let failing = |tag: &str| match tag {
        "a1@pings" => Outcome::Delivered,
        _ => retry_at(t0 + Duration::hours(1)),
    };
    let first = worker.settle_with(failing).await;
    assert_eq!(first, ["a1@flaky", "a1@pings", "b1@bflaky"]);

    // Saving an enabled endpoint does not restart its run of failures.
    let saved = store
        .update_endpoint(a.id, &flaky.id, &enabled(true), a.now())
        .await
        .unwrap();
    assert_eq!(saved.failing_since, Some(t0));

    let disable = |store: DynStore, now: DateTime<Utc>| async move {
        let cutoff = now - Duration::minutes(5);
        store.disable_failing_endpoints(cutoff, now).await.unwrap()
    };
    clock.advance(Duration::minutes(4));
    assert!(disable(store.clone(), a.now()).await.is_empty());
    clock.advance(Duration::minutes(1));
    let disabled = disable(store.clone(), a.now()).await;
    let ids: Vec<_> = disabled.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [flaky.id.as_str(), b_flaky.id.as_str()]);
    let d = &disabled[0];
    assert_eq!(
        (d.enabled, d.failing_since, d.updated_at),
        (false, Some(t0), a.now())
    );
    let reason = "failing since 2025-04-15T06:41:00Z";
    assert_eq!(d.disabled_reason.as_deref(), Some(reason));
    assert_eq!(store.endpoint(a.id, &flaky.id).await.unwrap(), *d);
    assert!(
        disable(store.clone(), a.now()).await.is_empty(),
        "only once"
    );

    // Each tenant's endpoints that want it hear of it; the disabled one does not.
    let notices = worker.claim(10).await;
    let seen: Vec<_> = notices
        .iter()
        .map(|n| {
            (
                n.endpoint.id.as_str(),
                n.event.tenant,
                n.event.payload.clone(),
            )
        })
        .collect();
    let payload = |id: &str, url: &str| {
        json!({ "event": ENDPOINT_DISABLED, "endpoint_id": id, "url": url,
                "failing_since": t0.timestamp() })
    };
    let expected = [
        (ops.id.as_str(), a.id, payload(&flaky.id, &flaky.url)),
        (b_ops.id.as_str(), b.id, payload(&b_flaky.id, &b_flaky.url)),
    ];
    assert_eq!(seen, expected);
    assert!(notices
        .iter()
        .all(|n| n.event.event_type == ENDPOINT_DISABLED));
    for n in &notices {
        assert!(worker.finish(n, &Outcome::Delivered).await);
    }

    // Re-enabling starts afresh: the endpoint's own notice (held while it was disabled)
    // and the waiting retry go out when due.
    let back = store
        .update_endpoint(a.id, &flaky.id, &enabled(true), a.now())
        .await
        .unwrap();
    assert_eq!(
        (back.enabled, back.failing_since, back.disabled_reason),
        (true, None, None)
    );
    clock.set(t0 + Duration::hours(1));
    assert_eq!(worker.claim_tags().await, ["?@flaky", "a1@flaky"]);
}

async fn replay_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let t0 = a.now();
    endpoint(&a, "a", None).await;
    endpoint(&a, "b", None).await;
    let e1 = enqueue(&a, &pings(&["e1"])).await.remove(0);
    let half = |tag: &str| match tag {
        "e1@a" => Outcome::Delivered,
        _ => Outcome::Dead,
    };
    assert_eq!(worker.settle_with(half).await, ["e1@a", "e1@b"]);

    // A replay sends the event again to each of its endpoints, from attempt 1.
    clock.advance(Duration::minutes(1));
    let replay = |id: String| {
        let (store, now) = (store.clone(), a.now());
        async move { store.replay_event(a.id, &id, now).await }
    };
    assert_eq!(replay(e1.event_id.clone()).await.unwrap(), 2);
    let again = worker.claim(10).await;
    assert_eq!(tags(&again), ["e1@a", "e1@b"]);
    assert!(again.iter().all(|d| d.attempt == 1 && d.event == e1));

    // It also takes a delivery from the worker holding it.
    assert_eq!(replay(e1.event_id.clone()).await.unwrap(), 2);
    assert!(!worker.finish(&again[0], &Outcome::Delivered).await);
    assert_eq!(worker.settle(&Outcome::Delivered).await, ["e1@a", "e1@b"]);
    let log = store.attempts(a.id, &e1.event_id).await.unwrap();
    let outcomes: Vec<_> = log.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        ["delivered", "dead", "delivered", "delivered", "delivered"]
    );
    not_found(&replay("missing".into()).await, Entity::Event);

    // Replaying the dead: only dead deliveries of events created in the window.
    clock.set(t0 + Duration::hours(1));
    enqueue(&a, &pings(&["e2"])).await;
    clock.set(t0 + Duration::hours(2));
    enqueue(&a, &pings(&["e3"])).await;
    let e2_a_lives = |tag: &str| match tag {
        "e2@b" => Outcome::Delivered,
        _ => Outcome::Dead,
    };
    assert_eq!(worker.settle_with(e2_a_lives).await.len(), 4);
    let window = (t0 + Duration::minutes(30), t0 + Duration::minutes(90));
    let dead = store.replay_dead(a.id, window.0, window.1, a.now());
    assert_eq!(dead.await.unwrap(), 1);
    assert_eq!(worker.settle(&Outcome::Dead).await, ["e2@a"]);
    let everything = store.replay_dead(a.id, t0, a.now(), a.now());
    assert_eq!(everything.await.unwrap(), 3);
    assert_eq!(worker.claim_tags().await, ["e2@a", "e3@a", "e3@b"]);
}

async fn message_status_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let company = store.tenant(a.id).await.unwrap().company;
    endpoint(&a, "a", Some(&[MESSAGE_SEND])).await;
    let session = a.inbound("c1", &["u1"]).await.session;
    let send_event = |m: &Message| message_send_event(&company, &session, std::slice::from_ref(m));
    for id in ["m1", "m2"] {
        let m = message(id, "agent", a.now());
        a.append_with("c1", &m, &[send_event(&m)]).await.unwrap();
    }
    let statuses = || async {
        let messages = a.messages("c1").await;
        let pairs = messages.into_iter().skip(1);
        pairs
            .map(|m| (m.message.msg_id, m.message.status, m.updated_at))
            .collect::<Vec<_>>()
    };
    let t0 = a.now();
    let row = |id: &str, s, at| (id.to_owned(), Some(s), at);

    // The event names its messages; a retry leaves their status alone.
    let first = worker.claim(10).await;
    assert_eq!(first.len(), 1, "m2 waits for m1: one session, one key");
    let m1_event = first[0].event.clone();
    let notify = json!({"event": "message.status", "call_id": "c1", "company": company,
        "channel": "WhatsApp", "channel_id": "waba-1", "user": {"id": "u-1", "name": "u-1 name"}});
    let expected = MessageStatusUpdate {
        call_id: call("c1"),
        msg_ids: vec!["m1".into()],
        notify: Some(notify),
    };
    assert_eq!(m1_event.on_outcome, Some(expected));
    clock.advance(Duration::seconds(5));
    assert!(worker.finish(&first[0], &retry_at(a.now())).await);
    let sent = MessageStatus::Sent;
    assert_eq!(
        statuses().await[1..],
        [row("m1", sent, t0), row("m2", sent, t0)]
    );

    // Delivered makes it `delivery`, dead makes it `failed`.
    assert_eq!(worker.settle(&Outcome::Delivered).await.len(), 1);
    let m2 = worker.claim(10).await.remove(0);
    assert!(worker.finish(&m2, &Outcome::Dead).await);
    let (delivery, failed) = (MessageStatus::Delivery, MessageStatus::Failed);
    let now = a.now();
    let expected = [
        row("u1", delivery, t0),
        row("m1", delivery, now),
        row("m2", failed, now),
    ];
    assert_eq!(statuses().await, expected);

    // Delivered wins over dead, whichever comes last.
    clock.advance(Duration::minutes(1));
    store
        .replay_event(a.id, &m2.event.event_id, a.now())
        .await
        .unwrap();
    assert_eq!(worker.settle(&Outcome::Delivered).await.len(), 1);
    store
        .replay_event(a.id, &m1_event.event_id, a.now())
        .await
        .unwrap();
    assert_eq!(worker.settle(&Outcome::Dead).await.len(), 1);
    let now = a.now();
    assert_eq!(
        statuses().await[1..],
        [
            row("m1", delivery, t0 + Duration::seconds(5)),
            row("m2", delivery, now)
        ]
    );

    // The message and its event commit together, or neither does.
    a.close("c1", EndReason::Agent).await.unwrap();
    let late = message("m3", "agent", a.now());
    rejected(
        a.append_with("c1", &late, &[send_event(&late)]).await,
        "session is closed",
    );
    let q = EventQuery {
        limit: 100,
        ..EventQuery::default()
    };
    let events = store.list_events(a.id, &q).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.event.event_type == kind).count();
    assert_eq!(count(MESSAGE_SEND), 2);
    // Each status change is reported: delivery (m1), failed then delivery (m2); m1's late
    // death changed nothing, so it reported nothing.
    assert_eq!(count("message.status"), 3);
}

async fn isolation_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    let worker = Worker::new(&store, &clock);
    let t0 = a.now();
    let a_ep = endpoint(&a, "a", None).await;
    let b_ep = endpoint(&b, "b", None).await;
    let a_event = enqueue(&a, &pings(&["from-a"])).await.remove(0);
    enqueue(&b, &pings(&["from-b"])).await;

    // B sees and changes none of A's endpoints.
    assert_eq!(
        store.endpoints(b.id).await.unwrap(),
        std::slice::from_ref(&b_ep)
    );
    not_found(&store.endpoint(b.id, &a_ep.id).await, Entity::Endpoint);
    let patch = EndpointPatch {
        url: Some(url("stolen")),
        ..EndpointPatch::default()
    };
    not_found(
        &store.update_endpoint(b.id, &a_ep.id, &patch, b.now()).await,
        Entity::Endpoint,
    );
    let x = secret("x");
    not_found(
        &store
            .rotate_secret(b.id, &a_ep.id, &x, b.now(), b.now())
            .await,
        Entity::Endpoint,
    );
    assert_eq!(store.endpoint(a.id, &a_ep.id).await.unwrap(), a_ep);

    // Claims serve every tenant; each delivery goes to its own tenant's endpoint.
    let claimed = worker.claim(10).await;
    assert_eq!(tags(&claimed), ["from-a@a", "from-b@b"]);
    let tenants: Vec<_> = claimed
        .iter()
        .map(|d| (d.event.tenant, d.endpoint.tenant))
        .collect();
    assert_eq!(tenants, [(a.id, a.id), (b.id, b.id)]);
    for d in &claimed {
        assert!(worker.finish(d, &Outcome::Dead).await);
    }

    // Events, attempts, replays and health stay within the tenant.
    assert_eq!(event_names(&b, None).await, ["from-b"]);
    not_found(
        &store.attempts(b.id, &a_event.event_id).await,
        Entity::Event,
    );
    not_found(
        &store.replay_event(b.id, &a_event.event_id, b.now()).await,
        Entity::Event,
    );
    assert_eq!(
        store.replay_dead(b.id, t0, b.now(), b.now()).await.unwrap(),
        1
    );
    let a_dead = events(&a, Some(DeliveryState::Dead)).await;
    assert_eq!(
        a_dead,
        [(
            "from-a".to_owned(),
            vec![(a_ep.id.clone(), DeliveryState::Dead, 1)]
        )]
    );
    assert_eq!(
        store.attempts(a.id, &a_event.event_id).await.unwrap().len(),
        1
    );
    let health = store.endpoint_health(b.id).await.unwrap();
    let seen: Vec<_> = health
        .iter()
        .map(|h| (h.endpoint.id.as_str(), h.pending, h.dead))
        .collect();
    assert_eq!(seen, [(b_ep.id.as_str(), 1, 0)]);
}
