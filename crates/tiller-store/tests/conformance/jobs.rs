//! The job queue on every backend: claims by lease in due order, per-key order inside a
//! lane, held lanes, paced lanes, heartbeats and the finish guard.

use std::time::Duration as StdDuration;

use chrono::Duration;
use tiller_core::{
    jobs::{ClaimedJob, JobKind, NewJob, Pacing, Verdict},
    store::DynStore,
    Entity, StoreError,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use crate::conversations::fixtures::Scope;

on_every_backend!(jobs_are_claimed_in_order_and_finished_once, queue_story);
on_every_backend!(held_and_paced_lanes_wait, lane_story);

const KIND: JobKind = JobKind::WebhookDelivery;

fn lease() -> Duration {
    Duration::seconds(30)
}

fn job(s: &Scope, lane: &str, key: Option<&str>, subject: i64) -> NewJob {
    NewJob {
        kind: KIND,
        tenant: s.id,
        lane: lane.to_owned(),
        order_key: key.map(str::to_owned),
        subject,
        due_at: s.now(),
    }
}

async fn claim(s: &Scope, pacing: Option<Pacing>, limit: u32) -> Vec<ClaimedJob> {
    let now = s.now();
    s.store
        .claim_jobs(KIND, pacing, now, now + lease(), limit)
        .await
        .unwrap()
}

fn subjects(claims: &[ClaimedJob]) -> Vec<i64> {
    claims.iter().map(|c| c.subject).collect()
}

async fn finish(s: &Scope, c: &ClaimedJob, verdict: Verdict) -> bool {
    s.store
        .finish_job(c.id, c.attempt, verdict, s.now())
        .await
        .unwrap()
}

async fn queue_story(store: DynStore) {
    let clock = ManualClock::new();
    let s = Scope::new(&store, "Jobs", &clock).await;
    // Lane a: 1 and 2 share key k (in order), 3 has none; lane b: 4 has key k too.
    let jobs = [
        job(&s, "a", Some("k"), 1),
        job(&s, "a", Some("k"), 2),
        job(&s, "a", None, 3),
        job(&s, "b", Some("k"), 4),
    ];
    store.enqueue_jobs(&jobs, s.now()).await.unwrap();

    let first = claim(&s, None, 10).await;
    assert_eq!(subjects(&first), vec![1, 3, 4], "2 waits behind 1");
    assert!(first.iter().all(|c| c.attempt == 1 && c.tenant == s.id));
    assert_eq!(first[0].lease_until, s.now() + lease());
    assert!(
        claim(&s, None, 10).await.is_empty(),
        "leased jobs are not claimed"
    );

    // 1 fails: it is due again later, and 2 still waits behind it.
    let one = &first[0];
    let retry_at = s.now() + Duration::seconds(60);
    assert!(finish(&s, one, Verdict::Retry { at: retry_at }).await);
    assert!(
        !finish(&s, one, Verdict::Done).await,
        "a finished claim is spent"
    );
    assert!(claim(&s, None, 10).await.is_empty());

    // A heartbeat keeps 3's claim alive past its first lease; 4's lease runs out.
    let three = &first[1];
    let later = s.now() + Duration::seconds(90);
    assert!(store.heartbeat_job(three.id, 1, later).await.unwrap());
    clock.advance(Duration::seconds(61));
    let second = claim(&s, None, 10).await;
    // Due order: 4 (due at the start) before 1 (due at its retry).
    assert_eq!(subjects(&second), vec![4, 1], "1 is due, 4's lease ran out");
    assert_eq!(
        second.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        vec![2, 2]
    );
    // 4's first claim is stale now: its verdict and heartbeat change nothing.
    assert!(!finish(&s, &first[2], Verdict::Done).await);
    assert!(!store.heartbeat_job(first[2].id, 1, later).await.unwrap());

    // 1 is rescheduled (not counted); done with 4 and 3.
    let soon = s.now() + Duration::seconds(5);
    assert!(finish(&s, &second[1], Verdict::Reschedule { at: soon }).await);
    assert!(finish(&s, &second[0], Verdict::Done).await);
    assert!(finish(&s, three, Verdict::GiveUp).await);
    clock.advance(Duration::seconds(5));
    let third = claim(&s, None, 10).await;
    assert_eq!(subjects(&third), vec![1]);
    assert_eq!(third[0].attempt, 2, "the rescheduled claim was given back");
    assert!(finish(&s, &third[0], Verdict::Done).await);
    let fourth = claim(&s, None, 10).await;
    assert_eq!(subjects(&fourth), vec![2], "1 is done: 2 goes");
    assert!(finish(&s, &fourth[0], Verdict::Done).await);
    assert!(claim(&s, None, 10).await.is_empty());

    match store.finish_job(9_999_999, 1, Verdict::Done, s.now()).await {
        Err(StoreError::NotFound(Entity::Job)) => {}
        other => panic!("expected NotFound(Job), got {other:?}"),
    }
}

async fn lane_story(store: DynStore) {
    let clock = ManualClock::new();
    let s = Scope::new(&store, "Lanes", &clock).await;
    let jobs = [
        job(&s, "a", None, 1),
        job(&s, "a", None, 2),
        job(&s, "b", None, 3),
        job(&s, "held", None, 4),
    ];
    store.enqueue_jobs(&jobs, s.now()).await.unwrap();
    store.hold_lane(KIND, "held", true).await.unwrap();

    // Paced: one job per lane, and each lane waits its gap (100 ms).
    let pace = Pacing {
        per_second: 10.0,
        min_gap: StdDuration::from_millis(50),
    };
    let first = claim(&s, Some(pace), 10).await;
    assert_eq!(
        subjects(&first),
        vec![1, 3],
        "one per lane, none of the held lane"
    );
    assert!(
        claim(&s, Some(pace), 10).await.is_empty(),
        "a and b are paced"
    );
    assert!(
        claim(&s, None, 10).await.is_empty(),
        "pacing holds every claim"
    );
    clock.advance(Duration::milliseconds(99));
    assert!(claim(&s, Some(pace), 10).await.is_empty());
    clock.advance(Duration::milliseconds(1));
    assert_eq!(subjects(&claim(&s, Some(pace), 10).await), vec![2]);

    // Released, the held lane's job goes.
    store.hold_lane(KIND, "held", false).await.unwrap();
    assert_eq!(subjects(&claim(&s, None, 10).await), vec![4]);
}
