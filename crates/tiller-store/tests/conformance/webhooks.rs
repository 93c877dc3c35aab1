//! Webhook stories: endpoints, the outbox and the delivery of its events, on every backend.
//! What operators do with the outbox (disabling, replays, message statuses, tenancy) is
//! in `webhook_operations.rs`.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use tiller_core::{
    store::DynStore,
    webhooks::{
        event_types::MESSAGE_SEND, ClaimedDelivery, DeliveryState, EndpointPatch, EventQuery,
        NewEvent, OutboxStats, Outcome,
    },
    Entity, Secret,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use crate::conversations::fixtures::not_found;
use fixtures::{
    endpoint, enqueue, event, events, lease, pings, retry_at, secret, tags, url, Scope, Worker,
};

#[path = "webhook_fixtures.rs"]
pub(crate) mod fixtures;
#[path = "webhook_operations.rs"]
mod operations;

on_every_backend!(endpoints_are_created_listed_and_patched, endpoint_story);
on_every_backend!(rotation_keeps_old_secrets_for_a_grace, rotation_story);
on_every_backend!(enqueue_fans_out_to_enabled_subscribers, fan_out_story);
on_every_backend!(a_claim_leases_until_the_outcome, delivery_story);
on_every_backend!(retries_wait_until_due_then_die, retry_story);
on_every_backend!(an_expired_lease_is_claimed_again, lease_story);
on_every_backend!(one_key_goes_out_in_order_per_endpoint, ordering_story);
on_every_backend!(disabled_endpoints_are_not_claimed, disabled_story);
on_every_backend!(
    concurrent_claimers_never_share_a_delivery,
    concurrent_claim_story
);

fn enabled(on: bool) -> EndpointPatch {
    EndpointPatch {
        enabled: Some(on),
        ..EndpointPatch::default()
    }
}

async fn stats(s: &Scope) -> (u64, u64) {
    let OutboxStats { pending, in_flight } = s.store.outbox_stats(s.now()).await.unwrap();
    (pending, in_flight)
}

async fn endpoint_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let t0 = a.now();
    let mut new = fixtures::new_endpoint("a", Some(&[MESSAGE_SEND]));
    new.encryption_key = Some(Secret::new("a2V5"));
    let created = store.create_endpoint(a.id, &new, t0).await.unwrap();
    assert_eq!(created.id.len(), 32);
    assert!(created.id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        (created.tenant, created.url.as_str()),
        (a.id, "https://a.test/hook")
    );
    assert_eq!(created.event_types, Some(vec![MESSAGE_SEND.to_owned()]));
    assert_eq!(created.secrets, [secret("a")]);
    assert_eq!(created.encryption_key, Some(Secret::new("a2V5")));
    assert!(created.enabled);
    assert_eq!(
        (created.failing_since, &created.disabled_reason),
        (None, &None)
    );
    assert_eq!((created.created_at, created.updated_at), (t0, t0));
    assert_eq!(store.endpoint(a.id, &created.id).await.unwrap(), created);

    // Oldest first, even when created in the same instant.
    let b = endpoint(&a, "b", None).await;
    let listed = store.endpoints(a.id).await.unwrap();
    assert_eq!(listed, [created.clone(), b]);

    // A patch changes only what it names; `Some(None)` subscribes to every type.
    clock.advance(Duration::minutes(1));
    let patch = EndpointPatch {
        url: Some(url("a2")),
        event_types: Some(None),
        ..EndpointPatch::default()
    };
    let patched = store
        .update_endpoint(a.id, &created.id, &patch, a.now())
        .await
        .unwrap();
    assert_eq!(
        (patched.url.as_str(), &patched.event_types),
        (url("a2").as_str(), &None)
    );
    assert_eq!((patched.created_at, patched.updated_at), (t0, a.now()));
    assert_eq!(
        (&patched.secrets, &patched.encryption_key),
        (&created.secrets, &created.encryption_key)
    );
    let off = EndpointPatch {
        event_types: Some(Some(vec!["session.closed".into()])),
        enabled: Some(false),
        ..EndpointPatch::default()
    };
    let off = store
        .update_endpoint(a.id, &created.id, &off, a.now())
        .await
        .unwrap();
    assert_eq!((&off.url, off.enabled), (&patched.url, false));
    assert_eq!(off.event_types, Some(vec!["session.closed".to_owned()]));
    assert_eq!(
        off.disabled_reason, None,
        "only an automatic disable gives a reason"
    );
    assert_eq!(store.endpoint(a.id, &created.id).await.unwrap(), off);

    let missing = "0".repeat(32);
    not_found(&store.endpoint(a.id, &missing).await, Entity::Endpoint);
    not_found(
        &store.update_endpoint(a.id, &missing, &patch, a.now()).await,
        Entity::Endpoint,
    );
    let x = secret("x");
    not_found(
        &store
            .rotate_secret(a.id, &missing, &x, a.now(), a.now())
            .await,
        Entity::Endpoint,
    );
}

async fn rotation_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let ep = endpoint(&a, "a", None).await;
    let t0 = a.now();
    let rotate = |name: &'static str, old_until| {
        let (store, id, now) = (store.clone(), ep.id.clone(), a.now());
        async move {
            store
                .rotate_secret(a.id, &id, &secret(name), old_until, now)
                .await
                .unwrap()
        }
    };

    // The old secret keeps signing for an hour; the new one is first.
    let rotated = rotate("s2", t0 + Duration::hours(1)).await;
    assert_eq!(rotated.secrets, [secret("s2"), secret("a")]);
    assert_eq!(rotated.updated_at, t0);
    assert_eq!(store.endpoint(a.id, &ep.id).await.unwrap(), rotated);

    // A later rotation with a longer grace does not extend the first secret's.
    clock.advance(Duration::minutes(10));
    let again = rotate("s3", a.now() + Duration::days(1)).await;
    assert_eq!(again.secrets, [secret("s3"), secret("s2"), secret("a")]);

    // A claim signs with the secrets active at its `now`.
    enqueue(&a, &pings(&["e1"])).await;
    clock.set(t0 + Duration::hours(1));
    let claimed = worker.claim(10).await;
    assert_eq!(claimed[0].endpoint.secrets, [secret("s3"), secret("s2")]);

    // With no grace the older secrets stop at once.
    let now_only = rotate("s4", a.now()).await;
    assert_eq!(now_only.secrets, [secret("s4")]);
    assert_eq!(
        store.endpoint(a.id, &ep.id).await.unwrap().secrets,
        [secret("s4")]
    );
}

async fn fan_out_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let t0 = a.now();
    let all = endpoint(&a, "all", None).await;
    let sends = endpoint(&a, "sends", Some(&[MESSAGE_SEND])).await;
    endpoint(&a, "closes", Some(&["session.closed"])).await;
    let off = endpoint(&a, "off", None).await;
    store
        .update_endpoint(a.id, &off.id, &enabled(false), a.now())
        .await
        .unwrap();

    let batch = [
        event("e1", MESSAGE_SEND, Some("c1")),
        event("e2", "test.ping", None),
    ];
    let records = enqueue(&a, &batch).await;
    assert_eq!(records.len(), 2);
    for (r, e) in records.iter().zip(&batch) {
        assert_eq!((&r.event_id, &r.event_type), (&e.event_id, &e.event_type));
        assert_eq!((&r.ordering_key, &r.payload), (&e.ordering_key, &e.payload));
        assert_eq!((r.tenant, r.created_at, &r.on_outcome), (a.id, t0, &None));
    }
    assert!(enqueue(&a, &[]).await.is_empty());

    // One pending delivery per endpoint that wants the type; the disabled endpoint's
    // wait for it to be enabled again, and are not claimed meanwhile.
    let pending = |id: &str| (id.to_owned(), DeliveryState::Pending, 0);
    let expected = [
        ("e2".to_owned(), vec![pending(&all.id), pending(&off.id)]),
        (
            "e1".to_owned(),
            vec![pending(&all.id), pending(&sends.id), pending(&off.id)],
        ),
    ];
    assert_eq!(events(&a, None).await, expected);
    let worker = Worker::new(&store, &clock);
    assert_eq!(worker.claim_tags().await, ["e1@all", "e1@sends", "e2@all"]);

    // Listing: newest first, within `[from, to]`, at most `limit`.
    clock.advance(Duration::minutes(1));
    enqueue(&a, &pings(&["e3"])).await;
    let list = |q: EventQuery| {
        let store = store.clone();
        async move {
            let found = store.list_events(a.id, &q).await.unwrap();
            let names = found.iter().map(|e| e.event.payload["name"].clone());
            names.collect::<Vec<_>>()
        }
    };
    let q = EventQuery {
        limit: 10,
        ..EventQuery::default()
    };
    assert_eq!(list(q.clone()).await, ["e3", "e2", "e1"]);
    let later = EventQuery {
        from: Some(t0 + Duration::seconds(1)),
        ..q.clone()
    };
    assert_eq!(list(later).await, ["e3"]);
    let earlier = EventQuery {
        to: Some(t0),
        ..q.clone()
    };
    assert_eq!(list(earlier).await, ["e2", "e1"]);
    assert_eq!(list(EventQuery { limit: 2, ..q }).await, ["e3", "e2"]);
}

async fn delivery_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let ep = endpoint(&a, "a", None).await;
    let e1 = enqueue(&a, &pings(&["e1"])).await.remove(0);
    assert_eq!(stats(&a).await, (1, 0));

    let claimed = worker.claim(10).await;
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!((&d.event, &d.endpoint), (&e1, &ep));
    assert_eq!((d.attempt, d.lease_until), (1, a.now() + lease()));

    // While leased it is in flight, and nobody else gets it.
    assert!(worker.claim(10).await.is_empty());
    assert_eq!(stats(&a).await, (1, 1));
    clock.advance(Duration::seconds(1));
    assert!(worker.finish(d, &Outcome::Delivered).await);
    assert!(worker.claim(10).await.is_empty());
    assert_eq!(stats(&a).await, (0, 0));

    let log = store.attempts(a.id, &e1.event_id).await.unwrap();
    assert_eq!(log, [worker.attempt(d, &Outcome::Delivered)]);
    let delivered = vec![(ep.id.clone(), DeliveryState::Delivered, 1)];
    assert_eq!(
        events(&a, Some(DeliveryState::Delivered)).await,
        [("e1".to_owned(), delivered)]
    );
    assert!(events(&a, Some(DeliveryState::Pending)).await.is_empty());
    let health = store.endpoint_health(a.id).await.unwrap();
    assert_eq!(health.len(), 1);
    let h = &health[0];
    assert_eq!((h.pending, h.delivered, h.dead), (0, 1, 0));
    assert_eq!(
        (h.last_attempt_at, h.last_status_code),
        (Some(a.now()), Some(200))
    );
    assert_eq!(h.endpoint, ep);

    not_found(&store.attempts(a.id, "no-such-event").await, Entity::Event);
    let mut unknown = worker.attempt(d, &Outcome::Delivered);
    unknown.delivery_id += 1_000;
    let finished = store.finish_attempt(&unknown, &Outcome::Delivered, a.now());
    not_found(&finished.await, Entity::Delivery);
}

async fn retry_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let ep = endpoint(&a, "a", None).await;
    let t0 = a.now();
    let e1 = enqueue(&a, &pings(&["e1"])).await.remove(0);
    let first = worker.claim(10).await.remove(0);
    assert!(
        worker
            .finish(&first, &retry_at(t0 + Duration::minutes(1)))
            .await
    );
    let failing = store.endpoint(a.id, &ep.id).await.unwrap();
    assert_eq!(failing.failing_since, Some(t0));
    assert_eq!(stats(&a).await, (1, 0), "the lease is released");

    // Not due until `at`; then attempt 2 of the same delivery.
    clock.advance(Duration::seconds(59));
    assert!(worker.claim(10).await.is_empty());
    clock.advance(Duration::seconds(1));
    let second = worker.claim(10).await.remove(0);
    assert_eq!((second.delivery_id, second.attempt), (first.delivery_id, 2));
    assert!(worker.finish(&second, &Outcome::Dead).await);

    // Dead is final, and the failure run still starts at the first failure.
    clock.advance(Duration::hours(1));
    assert!(worker.claim(10).await.is_empty());
    assert_eq!(stats(&a).await, (0, 0));
    let ep_now = store.endpoint(a.id, &ep.id).await.unwrap();
    assert_eq!(ep_now.failing_since, Some(t0));
    let log = store.attempts(a.id, &e1.event_id).await.unwrap();
    let outcomes: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r.attempt,
                r.outcome.as_str(),
                r.status_code,
                r.error.is_some(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [(1, "retry", Some(503), false), (2, "dead", None, true)]
    );
    let dead = vec![(ep.id.clone(), DeliveryState::Dead, 2)];
    assert_eq!(
        events(&a, Some(DeliveryState::Dead)).await,
        [("e1".to_owned(), dead)]
    );
    let health = store.endpoint_health(a.id).await.unwrap();
    assert_eq!((health[0].dead, health[0].last_status_code), (1, None));

    // Any success ends the run of failures.
    enqueue(&a, &pings(&["e2"])).await;
    assert_eq!(worker.settle(&Outcome::Delivered).await, ["e2@a"]);
    let healed = store.endpoint(a.id, &ep.id).await.unwrap();
    assert_eq!(healed.failing_since, None);
}

async fn lease_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    endpoint(&a, "a", None).await;
    let e1 = enqueue(&a, &pings(&["e1"])).await.remove(0);
    let stale = worker.claim(10).await.remove(0);

    // Its worker dies. Until the lease ends nobody else may try; then anyone may.
    clock.advance(lease() - Duration::milliseconds(1));
    assert!(worker.claim(10).await.is_empty());
    clock.advance(Duration::milliseconds(1));
    let fresh = worker.claim(10).await.remove(0);
    assert_eq!((fresh.delivery_id, fresh.attempt), (stale.delivery_id, 2));
    assert_eq!((&fresh.event, fresh.lease_until), (&e1, a.now() + lease()));

    // The stale worker's late answer is logged and changes nothing else.
    assert!(!worker.finish(&stale, &Outcome::Delivered).await);
    assert_eq!(stats(&a).await, (1, 1));
    assert!(worker.finish(&fresh, &Outcome::Delivered).await);
    assert_eq!(stats(&a).await, (0, 0));
    let log = store.attempts(a.id, &e1.event_id).await.unwrap();
    assert_eq!(log.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 2]);

    // A late answer still counts when nobody has claimed the delivery since.
    enqueue(&a, &pings(&["e2"])).await;
    let slow = worker.claim(10).await.remove(0);
    clock.advance(lease() * 2);
    assert!(worker.finish(&slow, &Outcome::Delivered).await);
    assert!(worker.claim(10).await.is_empty());
}

async fn ordering_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    endpoint(&a, "a", None).await;
    endpoint(&a, "b", None).await;
    let t0 = a.now();
    let keyed = |name: &str, key: &str| event(name, "test.ping", Some(key));
    let batch = [
        keyed("c1#1", "c1"),
        keyed("c1#2", "c1"),
        keyed("c2#1", "c2"),
        keyed("c2#2", "c2"),
        event("free", "test.ping", None),
    ];
    enqueue(&a, &batch).await;

    // The first event of each key, and the unordered one, go to both endpoints.
    let outcome = |tag: &str| match tag {
        "c1#1@b" => retry_at(t0 + Duration::minutes(1)),
        "c2#1@a" => Outcome::Dead,
        _ => Outcome::Delivered,
    };
    let first = worker.settle_with(outcome).await;
    let expected = ["c1#1@a", "c1#1@b", "c2#1@a", "c2#1@b", "free@a", "free@b"];
    assert_eq!(first, expected);

    // Delivered or dead, a key moves on; a retry holds it back on that endpoint only.
    let second = worker.settle(&Outcome::Delivered).await;
    assert_eq!(second, ["c1#2@a", "c2#2@a", "c2#2@b"]);
    assert!(worker.claim(10).await.is_empty());
    clock.advance(Duration::minutes(1));
    let retried = worker.claim(10).await;
    assert_eq!(tags(&retried), ["c1#1@b"]);
    assert!(
        worker.claim(10).await.is_empty(),
        "held back while c1#1@b is leased"
    );
    assert!(worker.finish(&retried[0], &Outcome::Delivered).await);
    assert_eq!(worker.claim_tags().await, ["c1#2@b"]);
}

async fn disabled_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let worker = Worker::new(&store, &clock);
    let ep = endpoint(&a, "a", None).await;
    enqueue(&a, &pings(&["e1"])).await;
    let update = |on: bool| {
        let (store, id, now) = (store.clone(), ep.id.clone(), a.now());
        async move {
            store
                .update_endpoint(a.id, &id, &enabled(on), now)
                .await
                .unwrap()
        }
    };

    // A disabled endpoint's deliveries wait, new ones included, and go out once it is
    // enabled again: nothing accepted is lost.
    update(false).await;
    assert!(worker.claim(10).await.is_empty());
    assert_eq!(stats(&a).await, (1, 0));
    enqueue(&a, &pings(&["e2"])).await;
    assert_eq!(stats(&a).await, (2, 0));
    assert!(worker.claim(10).await.is_empty());

    update(true).await;
    assert_eq!(worker.claim_tags().await, ["e1@a", "e2@a"]);
}

/// Two workers claiming and finishing at once, as two nodes would: every delivery is
/// claimed exactly once, and each key reaches each endpoint in order.
async fn concurrent_claim_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    endpoint(&a, "a", None).await;
    endpoint(&a, "b", None).await;
    let batch: Vec<NewEvent> = (0..30)
        .map(|i| {
            let key = (i % 3 != 0).then(|| format!("k{}", i % 4));
            event(&i.to_string(), "test.ping", key.as_deref())
        })
        .collect();
    enqueue(&a, &batch).await;

    let log: Arc<Mutex<Vec<ClaimedDelivery>>> = Arc::default();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (worker, log) = (Worker::new(&store, &clock), log.clone());
            tokio::spawn(async move {
                loop {
                    let claimed = worker.claim(4).await;
                    if claimed.is_empty() {
                        break;
                    }
                    log.lock().unwrap().extend(claimed.iter().cloned());
                    for d in &claimed {
                        assert!(worker.finish(d, &Outcome::Delivered).await);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }

    let log = log.lock().unwrap();
    let mut ids: Vec<i64> = log.iter().map(|d| d.delivery_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), log.len(), "no delivery was claimed twice");
    assert_eq!(log.len(), 60, "every delivery was claimed");
    for endpoint in [url("a"), url("b")] {
        for key in ["k0", "k1", "k2", "k3"] {
            let order: Vec<u32> = log
                .iter()
                .filter(|d| d.endpoint.url == endpoint)
                .filter(|d| d.event.ordering_key.as_deref() == Some(key))
                .map(|d| d.event.payload["name"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(order.is_sorted(), "{key} to {endpoint}: {order:?}");
        }
    }
}
