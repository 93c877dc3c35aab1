//! Rows of the job queue's tables, shared by both dialects.

use tiller_core::{
    clock::from_millis,
    jobs::{ClaimCandidate, ClaimedJob, JobKind, JobSnapshot, JobState},
    StoreError, StoreResult, TenantId,
};

use super::SqliteRow;
use crate::error::corrupt;

/// What a claim returns of each job it leased.
pub(crate) const JOB_COLUMNS: &str =
    "id, tenant_id, lane, order_key, subject, attempts, due_at, lease_until";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: i64,
    pub tenant_id: i64,
    pub lane: String,
    pub order_key: Option<String>,
    pub subject: i64,
    pub attempts: i64,
    pub due_at: i64,
    pub lease_until: Option<i64>,
}

impl SqliteRow for JobRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            tenant_id: r.get("tenant_id")?,
            lane: r.get("lane")?,
            order_key: r.get("order_key")?,
            subject: r.get("subject")?,
            attempts: r.get("attempts")?,
            due_at: r.get("due_at")?,
            lease_until: r.get("lease_until")?,
        })
    }
}

impl JobRow {
    /// The claimed job of `kind` (claims are made per kind, so the row need not say it).
    pub fn claimed(self, kind: JobKind) -> StoreResult<ClaimedJob> {
        let lease_until = self
            .lease_until
            .ok_or_else(|| corrupt(format!("claimed job {} without a lease", self.id)))?;
        Ok(ClaimedJob {
            id: self.id,
            kind,
            tenant: TenantId(self.tenant_id),
            lane: self.lane,
            order_key: self.order_key,
            subject: self.subject,
            attempt: count(self.attempts)?,
            due_at: from_millis(self.due_at),
            lease_until: from_millis(lease_until),
        })
    }
}

/// Claimed jobs in claim order: the earliest due first (RETURNING promises no order).
pub(crate) fn claimed_jobs(mut rows: Vec<JobRow>, kind: JobKind) -> StoreResult<Vec<ClaimedJob>> {
    rows.sort_by_key(|r| (r.due_at, r.id));
    rows.into_iter().map(|r| r.claimed(kind)).collect()
}

/// A claimable job as a paced claim first reads it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CandidateRow {
    pub id: i64,
    pub lane: String,
}

impl SqliteRow for CandidateRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            lane: r.get("lane")?,
        })
    }
}

impl From<CandidateRow> for ClaimCandidate {
    fn from(r: CandidateRow) -> Self {
        Self {
            id: r.id,
            lane: r.lane,
        }
    }
}

/// What a finish or a heartbeat reads of its job.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JobStateRow {
    pub state: String,
    pub attempts: i64,
    pub due_at: i64,
    pub lease_until: Option<i64>,
}

impl SqliteRow for JobStateRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            state: r.get("state")?,
            attempts: r.get("attempts")?,
            due_at: r.get("due_at")?,
            lease_until: r.get("lease_until")?,
        })
    }
}

impl TryFrom<&JobStateRow> for JobSnapshot {
    type Error = StoreError;

    fn try_from(r: &JobStateRow) -> StoreResult<Self> {
        Ok(JobSnapshot {
            state: job_state(&r.state)?,
            attempts: count(r.attempts)?,
            due_at: from_millis(r.due_at),
            leased: r.lease_until.is_some(),
        })
    }
}

pub(crate) fn job_state(raw: &str) -> StoreResult<JobState> {
    JobState::parse(raw).ok_or_else(|| corrupt(format!("job state {raw:?}")))
}

/// An attempt count or number, stored as BIGINT.
pub(crate) fn count(raw: i64) -> StoreResult<u32> {
    u32::try_from(raw).map_err(|_| corrupt(format!("attempt count {raw}")))
}
