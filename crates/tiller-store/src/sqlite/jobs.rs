//! The job queue on SQLite: writing jobs, claiming them by lease (held and paced lanes,
//! per-key order), heartbeats, finishing them with core's plan, lanes. Every function runs
//! in the caller's job on the writer thread, so claims never interleave.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value, Connection};
use tiller_core::{
    clock::{from_millis, to_millis},
    jobs::{
        pick_paced, plan_finish, plan_heartbeat, ClaimCandidate, ClaimedJob, JobChange, JobKind,
        JobSnapshot, NewJob, Pacing, Verdict,
    },
    store::JobStore,
    Entity, StoreResult,
};

use crate::{
    rows::{claimed_jobs, CandidateRow, JobRow, JobStateRow, JOB_COLUMNS},
    sqlite::{
        statements::{all, execute, found, placeholders},
        SqliteStore,
    },
};

/// Rows per multi-row insert: 6 values each, well under SQLite's 32 766 variables.
const INSERT_CHUNK: usize = 500;

/// Writes `jobs`, pending.
pub(crate) fn insert(conn: &Connection, jobs: &[NewJob], now: DateTime<Utc>) -> StoreResult<()> {
    for chunk in jobs.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO jobs (kind, tenant_id, lane, order_key, subject, state, attempts, \
             due_at, updated_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, 'pending', 0, ?, ?)"; chunk.len()].join(", ")
        );
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for j in chunk {
            values.extend([
                Value::from(j.kind.as_str().to_owned()),
                Value::from(j.tenant.0),
                Value::from(j.lane.clone()),
                Value::from(j.order_key.clone()),
                Value::from(j.subject),
                Value::from(to_millis(j.due_at)),
                Value::from(to_millis(now)),
            ]);
        }
        execute(conn, &sql, params_from_iter(values))?;
    }
    Ok(())
}

/// The claimable jobs of a kind (`?1` kind, `?2` now): pending, due, unleased (or the
/// lease ran out), in a lane neither held nor paced past now, and not behind an earlier
/// pending job of the same lane and order key. The ordering check can only use the partial
/// index `jobs_order` (migration 0009).
const CLAIMABLE: &str = "SELECT j.id, j.lane FROM jobs j \
     WHERE j.kind = ?1 AND j.state = 'pending' AND j.due_at <= ?2 \
     AND (j.lease_until IS NULL OR j.lease_until <= ?2) \
     AND NOT EXISTS (SELECT 1 FROM job_lanes l WHERE l.kind = j.kind AND l.lane = j.lane \
     AND (l.held OR l.next_at > ?2)) \
     AND (j.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs p WHERE p.kind = j.kind \
     AND p.lane = j.lane AND p.order_key = j.order_key AND p.state = 'pending' \
     AND p.id < j.id)) \
     ORDER BY j.due_at, j.id LIMIT ?3";

/// Leases up to `limit` claimable jobs of `kind` until `lease_until`, counting the attempt;
/// with `pacing`, one job per lane at most, and each lane claimed waits its gap.
pub(crate) fn claim(
    conn: &Connection,
    kind: JobKind,
    pacing: Option<Pacing>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedJob>> {
    let Some(pacing) = pacing else {
        // The common case in one statement.
        let sql = format!(
            "UPDATE jobs SET lease_until = ?4, attempts = attempts + 1, updated_at = ?2 \
             WHERE id IN (SELECT id FROM ({CLAIMABLE})) RETURNING {JOB_COLUMNS}"
        );
        let rows: Vec<JobRow> = all(
            conn,
            &sql,
            params![
                kind.as_str(),
                to_millis(now),
                i64::from(limit),
                to_millis(lease_until)
            ],
        )?;
        return claimed_jobs(rows, kind);
    };
    // A lane's first claimable job may sit behind other lanes' jobs: read more candidates
    // than the limit, so one busy lane does not starve the claim.
    let read = i64::from(limit).saturating_mul(8);
    let rows: Vec<CandidateRow> = all(
        conn,
        CLAIMABLE,
        params![kind.as_str(), to_millis(now), read],
    )?;
    let candidates: Vec<ClaimCandidate> = rows.into_iter().map(Into::into).collect();
    let picked = pick_paced(&candidates, limit as usize);
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE jobs SET lease_until = ?, attempts = attempts + 1, updated_at = ? \
         WHERE id IN ({}) RETURNING {JOB_COLUMNS}",
        placeholders(picked.len())
    );
    let mut values = vec![
        Value::from(to_millis(lease_until)),
        Value::from(to_millis(now)),
    ];
    values.extend(picked.iter().map(|c| Value::from(c.id)));
    let rows: Vec<JobRow> = all(conn, &sql, params_from_iter(values))?;
    let next_at = to_millis(pacing.next_at(now));
    for c in &picked {
        execute(
            conn,
            "INSERT INTO job_lanes (kind, lane, held, next_at) VALUES (?, ?, FALSE, ?) \
             ON CONFLICT (kind, lane) DO UPDATE SET next_at = excluded.next_at",
            params![kind.as_str(), &c.lane, next_at],
        )?;
    }
    claimed_jobs(rows, kind)
}

fn job_state(conn: &Connection, id: i64) -> StoreResult<JobStateRow> {
    found(
        conn,
        "SELECT state, attempts, due_at, lease_until FROM jobs WHERE id = ?",
        params![id],
        Entity::Job,
    )
}

/// Applies `change` to job `id`, ending its lease.
pub(crate) fn apply(
    conn: &Connection,
    id: i64,
    change: &JobChange,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE jobs SET state = ?, due_at = ?, attempts = ?, lease_until = NULL, \
         updated_at = ? WHERE id = ?",
        params![
            change.state.as_str(),
            to_millis(change.due_at),
            i64::from(change.attempts),
            to_millis(now),
            id
        ],
    )?;
    Ok(())
}

/// Reads the job, asks core for the verdict's change ([`plan_finish`]) and applies it;
/// whether the attempt was the job's live claim.
pub(crate) fn finish(
    conn: &Connection,
    id: i64,
    attempt: u32,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let row = job_state(conn, id)?;
    let Some(change) = plan_finish(&JobSnapshot::try_from(&row)?, attempt, verdict) else {
        return Ok(false);
    };
    apply(conn, id, &change, now)?;
    Ok(true)
}

/// Extends the live claim's lease ([`plan_heartbeat`]); whether it still is the live claim.
pub(crate) fn heartbeat(
    conn: &Connection,
    id: i64,
    attempt: u32,
    lease_until: DateTime<Utc>,
) -> StoreResult<bool> {
    let row = job_state(conn, id)?;
    let held = row.lease_until.map(from_millis);
    let Some(until) = plan_heartbeat(&JobSnapshot::try_from(&row)?, attempt, lease_until, held)
    else {
        return Ok(false);
    };
    execute(
        conn,
        "UPDATE jobs SET lease_until = ? WHERE id = ?",
        params![to_millis(until), id],
    )?;
    Ok(true)
}

/// Holds a lane (nothing of it is claimed) or releases it.
pub(crate) fn hold_lane(
    conn: &Connection,
    kind: JobKind,
    lane: &str,
    held: bool,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO job_lanes (kind, lane, held, next_at) VALUES (?, ?, ?, 0) \
         ON CONFLICT (kind, lane) DO UPDATE SET held = excluded.held",
        params![kind.as_str(), lane, held],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_jobs(&self, jobs: &[NewJob], now: DateTime<Utc>) -> StoreResult<()> {
        let jobs = jobs.to_vec();
        self.writer.run(move |tx| insert(tx, &jobs, now)).await
    }

    async fn claim_jobs(
        &self,
        kind: JobKind,
        pacing: Option<Pacing>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        self.writer
            .run(move |tx| claim(tx, kind, pacing, now, lease_until, limit))
            .await
    }

    async fn heartbeat_job(
        &self,
        id: i64,
        attempt: u32,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writer
            .run(move |tx| heartbeat(tx, id, attempt, lease_until))
            .await
    }

    async fn finish_job(
        &self,
        id: i64,
        attempt: u32,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writer
            .run(move |tx| finish(tx, id, attempt, verdict, now))
            .await
    }

    async fn hold_lane(&self, kind: JobKind, lane: &str, held: bool) -> StoreResult<()> {
        let lane = lane.to_owned();
        self.writer
            .run(move |tx| hold_lane(tx, kind, &lane, held))
            .await
    }
}
