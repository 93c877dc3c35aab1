//! The durable job queue's rules. Every side effect that leaves Tiller after a commit (a
//! webhook delivery today; robot turns, media downloads and WhatsApp sends next) is a job
//! row written in the transaction that caused it, leased by a worker, attempted outside any
//! transaction and finished with a [`Verdict`]. The store applies what is decided here.
//!
//! - A job's **lane** is the resource its attempts use up: a webhook endpoint, a WhatsApp
//!   business number. A lane can be *held* (nothing of it is claimed: a disabled endpoint)
//!   or *paced* (claims at most one job per [`Pacing::gap`]).
//! - Its **order key** is what must happen in order inside a lane (a session's events): a
//!   job waits while an earlier pending job has the same `(kind, lane, order_key)`.
//! - Its **subject** is the row the kind's worker acts on (a delivery's event).
//!
//! A crash loses nothing: a lease that runs out makes the job claimable again, and the
//! attempt number guards every finish, so a late worker's verdict changes nothing.

mod retry;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use retry::{parse_delays, Failure, RetryPolicy};

use crate::TenantId;

/// What a job does; each kind has its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// One event to one endpoint: the lane is the endpoint, the subject the event.
    WebhookDelivery,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebhookDelivery => "webhook.delivery",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for its due time, leased, or waiting to be tried again.
    Pending,
    /// Succeeded.
    Done,
    /// Gave up.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "done" => Some(Self::Done),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A job to write, in the transaction of the change that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    pub tenant: TenantId,
    pub lane: String,
    pub order_key: Option<String>,
    pub subject: i64,
    pub due_at: DateTime<Utc>,
}

/// A job a worker has leased: attempt it, then finish it before the lease ends (or lose
/// it to another worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: JobKind,
    pub tenant: TenantId,
    pub lane: String,
    pub order_key: Option<String>,
    pub subject: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub due_at: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
}

/// What a finish or a heartbeat is decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSnapshot {
    pub state: JobState,
    /// Claims made so far: the latest claim's attempt number.
    pub attempts: u32,
    pub due_at: DateTime<Utc>,
    /// Whether a claim's lease is set (running or run out); a finish ends it.
    pub leased: bool,
}

impl JobSnapshot {
    /// Whether `attempt` is still the job's live claim: its latest, not yet finished. Only
    /// the live claim changes the job.
    pub fn is_claimed_by(&self, attempt: u32) -> bool {
        self.state == JobState::Pending && self.leased && self.attempts == attempt
    }
}

/// What became of an attempt, as the queue sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Failed; try again at `at`. The attempt counts against the retry policy.
    Retry {
        at: DateTime<Utc>,
    },
    /// Failed for good.
    GiveUp,
    /// Not attempted after all (the provider asked to wait, the lane's pace): due again at
    /// `at`, and the claim is not counted as an attempt.
    Reschedule {
        at: DateTime<Utc>,
    },
}

/// A job's new state, due time and attempt count; applying one also ends its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobChange {
    pub state: JobState,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
}

impl JobChange {
    /// A replay: pending again, due at `now`, with its attempts reset.
    pub fn again(now: DateTime<Utc>) -> Self {
        Self {
            state: JobState::Pending,
            due_at: now,
            attempts: 0,
        }
    }
}

/// The finish rule: only the job's live claim changes it (`None` otherwise: the lease ran
/// out and another worker claimed it, or it was finished already).
pub fn plan_finish(snapshot: &JobSnapshot, attempt: u32, verdict: Verdict) -> Option<JobChange> {
    if !snapshot.is_claimed_by(attempt) {
        return None;
    }
    let keep = snapshot.due_at;
    let (state, due_at, attempts) = match verdict {
        Verdict::Done => (JobState::Done, keep, attempt),
        Verdict::Retry { at } => (JobState::Pending, at, attempt),
        Verdict::GiveUp => (JobState::Dead, keep, attempt),
        Verdict::Reschedule { at } => (JobState::Pending, at, attempt - 1),
    };
    Some(JobChange {
        state,
        due_at,
        attempts,
    })
}

/// The heartbeat rule: the live claim may extend its lease, never shorten it.
pub fn plan_heartbeat(
    snapshot: &JobSnapshot,
    attempt: u32,
    lease_until: DateTime<Utc>,
    current_lease: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    snapshot
        .is_claimed_by(attempt)
        .then(|| current_lease.map_or(lease_until, |held| held.max(lease_until)))
}

/// A lane's pace: at most `per_second` claims a second, and never two closer than
/// `min_gap`. A paced claim takes at most one job per lane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub per_second: f64,
    pub min_gap: Duration,
}

impl Pacing {
    /// The time between two claims of one lane.
    pub fn gap(&self) -> Duration {
        let by_rate = if self.per_second > 0.0 {
            Duration::from_secs_f64(1.0 / self.per_second)
        } else {
            Duration::MAX
        };
        by_rate.max(self.min_gap)
    }

    /// When the lane may be claimed again after a claim at `claimed_at`.
    pub fn next_at(&self, claimed_at: DateTime<Utc>) -> DateTime<Utc> {
        let gap = chrono::Duration::from_std(self.gap()).unwrap_or(chrono::Duration::MAX);
        claimed_at
            .checked_add_signed(gap)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The paced claim's choice among the claimable jobs the store found (in claim order):
/// the first of each lane, `limit` at most, in the order given.
pub fn pick_paced(candidates: &[ClaimCandidate], limit: usize) -> Vec<&ClaimCandidate> {
    let mut lanes = std::collections::HashSet::new();
    candidates
        .iter()
        .filter(|c| lanes.insert(c.lane.as_str()))
        .take(limit)
        .collect()
}

/// A claimable job as a paced claim reads it, before it chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCandidate {
    pub id: i64,
    pub lane: String,
}

#[cfg(test)]
mod tests;
