//! Delivery outcomes on PostgreSQL, grouped: the outcomes the workers report at once share
//! one transaction, one locking read of their deliveries' snapshots, one insert of their
//! attempt log rows and one update of their jobs, so a burst of N outcomes costs a handful
//! of statements and one commit instead of 3 N statements and N commits. Each outcome's
//! plan is still `plan_finish` over its own snapshot, as on the one-outcome path
//! (`outbox::finish`); the rare parts of a plan (a failure run starting or ending, message
//! statuses following the delivery) are applied one plan after another in the same
//! transaction.
//!
//! A second outcome for a delivery already in the group (a worker whose lease expired and
//! the one that claimed it after) runs alone after the group committed, as does a delivery
//! the group did not find; when any step fails, the group rolls back and every outcome
//! runs alone, so each gets exactly the answer it would get alone.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tiller_core::{
    clock::to_millis,
    webhooks::{plan_finish, AttemptRecord, DeliverySnapshot, FinishPlan, Outcome},
    StoreResult,
};

use super::{
    super::groups::{self, GroupError, Groups},
    outbox::{apply_finish_effects, finish},
};
use crate::{
    error::store_error,
    rows::{FinishRow, NewAttemptRow, FINISH_COLUMNS, FINISH_FROM},
};

/// The most outcomes one transaction carries.
const MAX_GROUP: usize = 128;

/// One `finish_attempt` call, owned so the writer can carry it.
struct Finish {
    attempt: AttemptRecord,
    outcome: Outcome,
    now: DateTime<Utc>,
}

type Queued = groups::Queued<Finish, bool>;

/// The queue in front of the node's delivery-outcome writer.
pub(crate) struct FinishGroups(Groups<Finish, bool>);

impl std::fmt::Debug for FinishGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FinishGroups {
    pub(crate) fn start(pool: &PgPool) -> Self {
        Self(Groups::start("delivery writer", MAX_GROUP, pool, write))
    }

    /// Applies the outcome in the next group; the answer is the one-outcome path's.
    pub(crate) async fn finish(
        &self,
        attempt: &AttemptRecord,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let request = Finish {
            attempt: attempt.clone(),
            outcome: outcome.clone(),
            now,
        };
        self.0.submit(request).await
    }
}

async fn write(pool: PgPool, group: Vec<Queued>) {
    let mut seen = HashSet::new();
    let (mut grouped, mut alone): (Vec<Queued>, Vec<Queued>) = group
        .into_iter()
        .partition(|q| seen.insert(q.request.attempt.delivery_id));
    let answers = match commit_group(&pool, &grouped).await {
        Ok(answers) => answers,
        Err(GroupError::Rolled(e)) => {
            tracing::debug!(error = %e, "a group of delivery outcomes rolled back");
            grouped.iter().map(|_| None).collect()
        }
        Err(GroupError::Commit(e)) => {
            // Whether it took is unknown: each worker hears the error, and its lease lets
            // the delivery be attempted again.
            tracing::warn!(error = %e, "a group of delivery outcomes failed to commit");
            GroupError::answer_all(&e, std::mem::take(&mut grouped));
            Vec::new()
        }
    };
    let mut left = Vec::new();
    for (q, answer) in grouped.into_iter().zip(answers) {
        match answer {
            Some(current) => {
                let _ = q.reply.send(Ok(current));
            }
            None => left.push(q),
        }
    }
    // Those the group left come before a later outcome for their delivery.
    left.append(&mut alone);
    // Before the next group, so a delivery's outcomes apply in the order they came.
    for q in left {
        let r = &q.request;
        let answer = finish(&pool, &r.attempt, &r.outcome, r.now).await;
        let _ = q.reply.send(answer);
    }
}

#[derive(sqlx::FromRow)]
struct KeyedFinish {
    key_id: i64,
    #[sqlx(flatten)]
    row: FinishRow,
}

/// One transaction for the group: each outcome's answer (whether it was current), or `None`
/// for one whose delivery the group did not find (it runs alone, and is told so there).
async fn commit_group(pool: &PgPool, group: &[Queued]) -> Result<Vec<Option<bool>>, GroupError> {
    if group.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| GroupError::Rolled(store_error(e)))?;
    let answers = write_group(&mut tx, group)
        .await
        .map_err(GroupError::Rolled)?;
    tx.commit()
        .await
        .map_err(|e| GroupError::Commit(store_error(e)))?;
    Ok(answers)
}

/// The group's writes, in its transaction.
async fn write_group(tx: &mut PgConnection, group: &[Queued]) -> StoreResult<Vec<Option<bool>>> {
    let ids: Vec<i64> = group
        .iter()
        .map(|q| q.request.attempt.delivery_id)
        .collect();
    // In id order, so two groups (of two nodes) never wait on each other in a cycle.
    let sql = format!(
        "SELECT j.id AS key_id, {FINISH_COLUMNS} FROM {FINISH_FROM} \
         WHERE j.id = ANY($1) ORDER BY j.id FOR UPDATE OF j"
    );
    let rows: Vec<KeyedFinish> = sqlx::query_as(&sql)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut snapshots: HashMap<i64, FinishRow> =
        rows.into_iter().map(|k| (k.key_id, k.row)).collect();
    let mut plans: Vec<Option<(FinishPlan, DateTime<Utc>)>> = Vec::with_capacity(group.len());
    for q in group {
        let plan = match snapshots.remove(&q.request.attempt.delivery_id) {
            Some(row) => {
                let snapshot = DeliverySnapshot::try_from(row)?;
                Some((
                    plan_finish(snapshot, &q.request.attempt, &q.request.outcome),
                    q.request.now,
                ))
            }
            None => None,
        };
        plans.push(plan);
    }
    let found: Vec<&(FinishPlan, DateTime<Utc>)> = plans.iter().flatten().collect();
    insert_attempts(tx, &found).await?;
    update_jobs(tx, &found).await?;
    for (plan, now) in &found {
        apply_finish_effects(tx, plan, *now).await?;
    }
    Ok(plans
        .iter()
        .map(|p| p.as_ref().map(|(plan, _)| plan.is_current()))
        .collect())
}

/// Every plan's attempt log row, in one statement.
async fn insert_attempts(
    tx: &mut PgConnection,
    plans: &[&(FinishPlan, DateTime<Utc>)],
) -> StoreResult<()> {
    if plans.is_empty() {
        return Ok(());
    }
    let mut jobs = Vec::new();
    let (mut events, mut endpoints, mut tenants) = (Vec::new(), Vec::new(), Vec::new());
    let (mut attempts, mut started, mut codes, mut latencies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut excerpts, mut errors, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
    for (plan, _) in plans {
        let log = &plan.log;
        let new = NewAttemptRow::of(log);
        jobs.push(log.delivery_id);
        events.push(log.event_id.as_str());
        endpoints.push(log.endpoint_id.as_str());
        tenants.push(plan.tenant.0);
        attempts.push(new.attempt);
        started.push(new.started_at);
        codes.push(new.status_code);
        latencies.push(new.latency_ms);
        excerpts.push(log.response_excerpt.as_str());
        errors.push(log.error.as_deref());
        outcomes.push(log.outcome.as_str());
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (job_id, event_id, endpoint_id, tenant_id, attempt, \
         started_at, status_code, latency_ms, response_excerpt, error, outcome) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], \
           $6::int8[], $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[])",
    )
    .bind(&jobs)
    .bind(&events)
    .bind(&endpoints)
    .bind(&tenants)
    .bind(&attempts)
    .bind(&started)
    .bind(&codes)
    .bind(&latencies)
    .bind(&excerpts)
    .bind(&errors)
    .bind(&outcomes)
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Every current plan's job change, in one statement (`jobs::apply`, for many).
async fn update_jobs(
    tx: &mut PgConnection,
    plans: &[&(FinishPlan, DateTime<Utc>)],
) -> StoreResult<()> {
    let (mut ids, mut states, mut due, mut attempts, mut at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (plan, now) in plans {
        let Some(change) = &plan.delivery else {
            continue;
        };
        ids.push(plan.log.delivery_id);
        states.push(change.state.as_str());
        due.push(to_millis(change.due_at));
        attempts.push(i64::from(change.attempts));
        at.push(to_millis(*now));
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE jobs SET state = k.state, due_at = k.due, attempts = k.attempts, \
         lease_until = NULL, updated_at = k.at \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
           AS k(id, state, due, attempts, at) \
         WHERE jobs.id = k.id",
    )
    .bind(&ids)
    .bind(&states)
    .bind(&due)
    .bind(&attempts)
    .bind(&at)
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(())
}
