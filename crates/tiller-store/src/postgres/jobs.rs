//! The job queue on PostgreSQL: writing jobs, claiming them by lease (held and paced lanes,
//! per-key order) across nodes, heartbeats, finishing them with core's plan, lanes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::{from_millis, to_millis},
    jobs::{
        pick_paced, plan_finish, plan_heartbeat, ClaimCandidate, ClaimedJob, JobChange, JobKind,
        JobSnapshot, NewJob, Pacing, Verdict,
    },
    store::JobStore,
    Entity, StoreResult,
};

use super::PgStore;
use crate::{
    error::{not_found, store_error},
    rows::{claimed_jobs, CandidateRow, JobRow, JobStateRow, JOB_COLUMNS},
};

/// Rows per multi-row insert: 7 binds each, well under PostgreSQL's 65 535.
const INSERT_CHUNK: usize = 1_000;

/// Writes `jobs`, pending, in the caller's transaction.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in jobs.chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO jobs (kind, tenant_id, lane, order_key, subject, state, attempts, \
             due_at, updated_at) ",
        );
        qb.push_values(chunk, |mut b, j| {
            b.push_bind(j.kind.as_str())
                .push_bind(j.tenant.0)
                .push_bind(j.lane.as_str())
                .push_bind(j.order_key.as_deref())
                .push_bind(j.subject)
                .push("'pending'")
                .push("0")
                .push_bind(to_millis(j.due_at))
                .push_bind(to_millis(now));
        });
        qb.build().execute(&mut *conn).await.map_err(store_error)?;
    }
    Ok(())
}

/// The claimable jobs of a kind (`$1` kind, `$2` now, `$3` limit): pending, due, unleased
/// (or the lease ran out), in a lane neither held nor paced past now, and not behind an
/// earlier pending job of the same lane and order key. Rows another node is claiming are
/// skipped, not waited for. The ordering check only reads, so it sees an earlier job as
/// pending even while another node holds it locked: two nodes never take two jobs of one
/// key at once.
///
/// The check can only use the partial index `jobs_order`: migration 0005 removed the index
/// that a table without statistics yet (a fresh queue, before autovacuum's first ANALYZE)
/// used instead, scanning every pending job of the lane for every candidate; migration 0009
/// keeps it so.
const CLAIMABLE: &str = "SELECT j.id, j.lane FROM jobs j \
     WHERE j.kind = $1 AND j.state = 'pending' AND j.due_at <= $2 \
     AND (j.lease_until IS NULL OR j.lease_until <= $2) \
     AND NOT EXISTS (SELECT 1 FROM job_lanes l WHERE l.kind = j.kind AND l.lane = j.lane \
     AND (l.held OR l.next_at > $2)) \
     AND (j.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs p WHERE p.kind = j.kind \
     AND p.lane = j.lane AND p.order_key = j.order_key AND p.state = 'pending' \
     AND p.id < j.id)) \
     ORDER BY j.due_at, j.id LIMIT $3 FOR UPDATE OF j SKIP LOCKED";

/// Leases up to `limit` claimable jobs of `kind` until `lease_until`, counting the attempt,
/// in the caller's transaction; with `pacing`, one job per lane at most, and each lane
/// claimed waits its gap (its lane row is locked, so two nodes never claim one lane within
/// a gap).
pub(crate) async fn claim(
    conn: &mut PgConnection,
    kind: JobKind,
    pacing: Option<Pacing>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedJob>> {
    let Some(pacing) = pacing else {
        // The common case in one statement.
        let sql = format!(
            "UPDATE jobs SET lease_until = $4, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM ({CLAIMABLE}) c) RETURNING {JOB_COLUMNS}"
        );
        let rows: Vec<JobRow> = sqlx::query_as(&sql)
            .bind(kind.as_str())
            .bind(to_millis(now))
            .bind(i64::from(limit))
            .bind(to_millis(lease_until))
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        return claimed_jobs(rows, kind);
    };
    // A lane's first claimable job may sit behind other lanes' jobs: read more candidates
    // than the limit, so one busy lane does not starve the claim.
    let rows: Vec<CandidateRow> = sqlx::query_as(CLAIMABLE)
        .bind(kind.as_str())
        .bind(to_millis(now))
        .bind(i64::from(limit).saturating_mul(8))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let candidates: Vec<ClaimCandidate> = rows.into_iter().map(Into::into).collect();
    let mut lanes: Vec<&str> = pick_paced(&candidates, usize::MAX)
        .iter()
        .map(|c| c.lane.as_str())
        .collect();
    if lanes.is_empty() {
        return Ok(Vec::new());
    }
    lanes.sort_unstable();
    // Lanes another node is claiming are skipped; a lane claimed since the read is paced.
    sqlx::query(
        "INSERT INTO job_lanes (kind, lane, held, next_at) \
         SELECT $1, lane, FALSE, 0 FROM UNNEST($2::text[]) AS lane ON CONFLICT DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(&lanes)
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    let free: Vec<String> = sqlx::query_scalar(
        "SELECT lane FROM job_lanes WHERE kind = $1 AND lane = ANY($2) \
         AND NOT held AND next_at <= $3 ORDER BY lane FOR UPDATE SKIP LOCKED",
    )
    .bind(kind.as_str())
    .bind(&lanes)
    .bind(to_millis(now))
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let free: Vec<ClaimCandidate> = candidates
        .into_iter()
        .filter(|c| free.contains(&c.lane))
        .collect();
    let chosen = pick_paced(&free, limit as usize);
    let picked: Vec<i64> = chosen.iter().map(|c| c.id).collect();
    let paced: Vec<&str> = chosen.iter().map(|c| c.lane.as_str()).collect();
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE jobs SET lease_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id = ANY($3) RETURNING {JOB_COLUMNS}"
    );
    let rows: Vec<JobRow> = sqlx::query_as(&sql)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(&picked)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    sqlx::query("UPDATE job_lanes SET next_at = $1 WHERE kind = $2 AND lane = ANY($3)")
        .bind(to_millis(pacing.next_at(now)))
        .bind(kind.as_str())
        .bind(&paced)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    claimed_jobs(rows, kind)
}

/// Reads and locks job `id` until the caller's transaction ends.
pub(crate) async fn lock(conn: &mut PgConnection, id: i64) -> StoreResult<JobStateRow> {
    sqlx::query_as("SELECT state, attempts, due_at, lease_until FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(not_found(Entity::Job))
}

/// Applies `change` to job `id`, ending its lease.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    id: i64,
    change: &JobChange,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE jobs SET state = $1, due_at = $2, attempts = $3, lease_until = NULL, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(change.state.as_str())
    .bind(to_millis(change.due_at))
    .bind(i64::from(change.attempts))
    .bind(to_millis(now))
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Holds a lane (nothing of it is claimed) or releases it, in the caller's transaction.
pub(crate) async fn hold_lane(
    conn: &mut PgConnection,
    kind: JobKind,
    lane: &str,
    held: bool,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO job_lanes (kind, lane, held, next_at) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (kind, lane) DO UPDATE SET held = excluded.held",
    )
    .bind(kind.as_str())
    .bind(lane)
    .bind(held)
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

async fn in_tx<T>(
    pool: &PgPool,
    work: impl for<'c> AsyncFnOnce(&'c mut PgConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let out = work(&mut tx).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(out)
}

#[async_trait::async_trait]
impl JobStore for PgStore {
    async fn enqueue_jobs(&self, jobs: &[NewJob], now: DateTime<Utc>) -> StoreResult<()> {
        in_tx(&self.pool, async |c| insert(c, jobs, now).await).await
    }

    async fn claim_jobs(
        &self,
        kind: JobKind,
        pacing: Option<Pacing>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        in_tx(&self.pool, async |c| {
            claim(c, kind, pacing, now, lease_until, limit).await
        })
        .await
    }

    async fn heartbeat_job(
        &self,
        id: i64,
        attempt: u32,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx(&self.pool, async |c| {
            let row = lock(c, id).await?;
            let held = row.lease_until.map(from_millis);
            let snapshot = JobSnapshot::try_from(&row)?;
            let Some(until) = plan_heartbeat(&snapshot, attempt, lease_until, held) else {
                return Ok(false);
            };
            sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2")
                .bind(to_millis(until))
                .bind(id)
                .execute(&mut *c)
                .await
                .map_err(store_error)?;
            Ok(true)
        })
        .await
    }

    async fn finish_job(
        &self,
        id: i64,
        attempt: u32,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_tx(&self.pool, async |c| {
            let row = lock(c, id).await?;
            let Some(change) = plan_finish(&JobSnapshot::try_from(&row)?, attempt, verdict) else {
                return Ok(false);
            };
            apply(c, id, &change, now).await?;
            Ok(true)
        })
        .await
    }

    async fn hold_lane(&self, kind: JobKind, lane: &str, held: bool) -> StoreResult<()> {
        in_tx(&self.pool, async |c| hold_lane(c, kind, lane, held).await).await
    }
}
