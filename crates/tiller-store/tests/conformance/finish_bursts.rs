//! Bursts of delivery outcomes, as a worker with many requests in flight reports them:
//! delivered, retried and dead outcomes at once, a second report for the same claim
//! racing the first, and an outcome for a delivery that does not exist. PostgreSQL carries
//! such a burst in shared transactions; every outcome must still get exactly the answer it
//! would get alone.

use chrono::Duration;
use tiller_core::{
    store::DynStore,
    webhooks::{ClaimedDelivery, DeliveryState, Outcome},
    Clock, Entity,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use crate::conversations::fixtures::not_found;
use crate::webhooks::fixtures::{endpoint, enqueue, events, pings, tag, Scope, Worker};

on_every_backend!(finish_bursts_keep_each_answer, finish_burst_story);

const EVENTS: usize = 40;

/// What event `i` gets: delivered, retried in a minute, or dead.
fn outcome(i: usize, clock: &ManualClock) -> Outcome {
    match i % 3 {
        0 => Outcome::Delivered,
        1 => Outcome::Retry {
            at: clock.now() + Duration::minutes(1),
        },
        _ => Outcome::Dead,
    }
}

fn index(d: &ClaimedDelivery) -> usize {
    d.event.payload["name"].as_str().unwrap().parse().unwrap()
}

async fn finish_burst_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    endpoint(&a, "one", None).await;
    endpoint(&a, "two", None).await;
    let names: Vec<String> = (0..EVENTS).map(|i| i.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    enqueue(&a, &pings(&names)).await;
    let worker = Worker::new(&store, &clock);
    let claimed = worker.claim(100).await;
    assert_eq!(claimed.len(), 2 * EVENTS);

    // Every outcome at once; the first ten deliveries reported twice (same claim, same
    // outcome), and one outcome for a delivery that never existed.
    let mut tasks = Vec::new();
    for (n, d) in claimed.iter().enumerate() {
        let copies = if n < 10 { 2 } else { 1 };
        for _ in 0..copies {
            let (worker, d) = (worker.clone(), d.clone());
            let o = outcome(index(&d), &clock);
            tasks.push(tokio::spawn(async move {
                (d.delivery_id, worker.finish(&d, &o).await)
            }));
        }
    }
    let ghost = {
        let mut d = claimed[0].clone();
        d.delivery_id = i64::MAX - 7;
        let record = worker.attempt(&d, &Outcome::Delivered);
        let store = store.clone();
        let now = clock.now();
        tokio::spawn(async move {
            store
                .finish_attempt(&record, &Outcome::Delivered, now)
                .await
        })
    };
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    not_found(&ghost.await.unwrap(), Entity::Delivery);

    // Each delivery's outcome applied once: the second report of a claim is stale.
    for (n, d) in claimed.iter().enumerate() {
        let current = answers
            .iter()
            .filter(|(id, current)| *id == d.delivery_id && *current)
            .count();
        assert_eq!(current, 1, "{}: applied once", tag(d));
        let reports = answers
            .iter()
            .filter(|(id, _)| *id == d.delivery_id)
            .count();
        assert_eq!(reports, if n < 10 { 2 } else { 1 });
    }

    // The deliveries stand as their outcomes say, each attempt logged.
    for (name, deliveries) in events(&a, None).await {
        let i: usize = name.parse().unwrap();
        let want = match i % 3 {
            0 => DeliveryState::Delivered,
            1 => DeliveryState::Pending,
            _ => DeliveryState::Dead,
        };
        assert_eq!(deliveries.len(), 2);
        for (endpoint, state, attempts) in deliveries {
            assert_eq!((state, attempts), (want, 1), "{name}@{endpoint}");
        }
    }
    for d in &claimed {
        let logged = store.attempts(a.id, &d.event.event_id).await.unwrap();
        let of_this: Vec<_> = logged
            .iter()
            .filter(|r| r.endpoint_id == d.endpoint.id)
            .collect();
        let twice = claimed[..10].iter().any(|c| c.delivery_id == d.delivery_id);
        assert_eq!(of_this.len(), if twice { 2 } else { 1 }, "{}", tag(d));
    }

    // A minute on, only the retried ones are due again.
    clock.advance(Duration::minutes(1));
    let again = worker.claim(100).await;
    let mut due: Vec<usize> = again.iter().map(index).collect();
    due.sort_unstable();
    due.dedup();
    let retried: Vec<usize> = (0..EVENTS).filter(|i| i % 3 == 1).collect();
    assert_eq!(due, retried);
    assert_eq!(again.len(), 2 * retried.len());
}
