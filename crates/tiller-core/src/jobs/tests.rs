use std::time::Duration;

use super::*;
use crate::clock::from_millis;

fn pending(attempts: u32) -> JobSnapshot {
    JobSnapshot {
        state: JobState::Pending,
        attempts,
        due_at: from_millis(1_000),
        leased: true,
    }
}

#[test]
fn only_the_live_claim_finishes_a_job() {
    let at = from_millis(9_000);
    assert_eq!(
        plan_finish(&pending(2), 2, Verdict::Done),
        Some(JobChange {
            state: JobState::Done,
            due_at: from_millis(1_000),
            attempts: 2
        })
    );
    assert_eq!(
        plan_finish(&pending(2), 2, Verdict::Retry { at }),
        Some(JobChange {
            state: JobState::Pending,
            due_at: at,
            attempts: 2
        })
    );
    assert_eq!(
        plan_finish(&pending(2), 2, Verdict::GiveUp).map(|c| c.state),
        Some(JobState::Dead)
    );
    // A stale claim (the lease ran out, another worker claimed it) changes nothing.
    assert_eq!(plan_finish(&pending(3), 2, Verdict::Done), None);
    let done = JobSnapshot {
        state: JobState::Done,
        ..pending(2)
    };
    assert_eq!(plan_finish(&done, 2, Verdict::GiveUp), None);
    // A retry ends the claim: the same claim's second verdict changes nothing.
    let retried = JobSnapshot {
        leased: false,
        ..pending(2)
    };
    assert_eq!(plan_finish(&retried, 2, Verdict::Done), None);
}

#[test]
fn a_reschedule_gives_the_attempt_back() {
    let at = from_millis(5_000);
    assert_eq!(
        plan_finish(&pending(1), 1, Verdict::Reschedule { at }),
        Some(JobChange {
            state: JobState::Pending,
            due_at: at,
            attempts: 0
        })
    );
}

#[test]
fn a_heartbeat_extends_the_live_claim_only() {
    let (short, long) = (from_millis(2_000), from_millis(8_000));
    assert_eq!(
        plan_heartbeat(&pending(1), 1, long, Some(short)),
        Some(long)
    );
    assert_eq!(
        plan_heartbeat(&pending(1), 1, short, Some(long)),
        Some(long)
    );
    assert_eq!(plan_heartbeat(&pending(1), 1, long, None), Some(long));
    assert_eq!(plan_heartbeat(&pending(2), 1, long, Some(short)), None);
}

#[test]
fn a_replay_starts_over() {
    let now = from_millis(7_000);
    assert_eq!(
        JobChange::again(now),
        JobChange {
            state: JobState::Pending,
            due_at: now,
            attempts: 0
        }
    );
}

#[test]
fn pacing_takes_the_slower_of_rate_and_gap() {
    let rate = Pacing {
        per_second: 80.0,
        min_gap: Duration::from_millis(5),
    };
    assert_eq!(rate.gap(), Duration::from_micros(12_500));
    let gap = Pacing {
        per_second: 1_000.0,
        min_gap: Duration::from_millis(50),
    };
    assert_eq!(gap.gap(), Duration::from_millis(50));
    assert_eq!(gap.next_at(from_millis(1_000)), from_millis(1_050));
    let stopped = Pacing {
        per_second: 0.0,
        min_gap: Duration::ZERO,
    };
    assert_eq!(stopped.next_at(from_millis(0)), DateTime::<Utc>::MAX_UTC);
}

#[test]
fn a_paced_claim_takes_one_job_per_lane_in_claim_order() {
    let c = |id, lane: &str| ClaimCandidate {
        id,
        lane: lane.to_owned(),
    };
    let candidates = [c(1, "a"), c(2, "a"), c(3, "b"), c(4, "c"), c(5, "b")];
    let ids = |limit| -> Vec<i64> {
        pick_paced(&candidates, limit)
            .iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(ids(10), vec![1, 3, 4]);
    assert_eq!(ids(2), vec![1, 3]);
}

#[test]
fn states_and_kinds_have_stable_names() {
    for s in [JobState::Pending, JobState::Done, JobState::Dead] {
        assert_eq!(JobState::parse(s.as_str()), Some(s));
    }
    assert_eq!(JobState::parse("delivered"), None);
    assert_eq!(JobKind::WebhookDelivery.as_str(), "webhook.delivery");
}
