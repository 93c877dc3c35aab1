//! The outbox on PostgreSQL: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    webhooks::{
        plan_disable, plan_finish, AttemptRecord, ClaimedDelivery, DeliverySnapshot, Endpoint,
        EventRecord, FailureRun, FinishPlan, MessageStatusChange, NewEvent, Outcome,
    },
    Entity, StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    error::{not_found, store_error},
    rows::{
        claimed, ClaimRow, EndpointRow, EventRow, FinishRow, NewAttemptRow, NewEventRow,
        CLAIM_RETURNING, ENDPOINT_COLUMNS, EVENT_COLUMNS, FINISH_COLUMNS,
    },
};

/// Writes `events` and, for each, one pending delivery due at `now` per endpoint of tenant
/// `t` that wants its type, enabled or not: a disabled endpoint's deliveries wait until it
/// is enabled again (claims skip disabled endpoints), so nothing accepted is lost. Runs in the caller's transaction: `enqueue`,
/// `append_message` and `disable_failing_endpoints` all write events through here.
pub(crate) async fn enqueue_events(
    conn: &mut PgConnection,
    t: TenantId,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY seq"
    );
    let rows: Vec<EndpointRow> = sqlx::query_as(&sql)
        .bind(t.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    // Secrets play no part in choosing subscribers.
    let subscribers = rows
        .into_iter()
        .map(|r| r.into_endpoint(Vec::new()))
        .collect::<StoreResult<Vec<_>>>()?;
    let insert = format!(
        "INSERT INTO webhook_events (event_id, tenant_id, event_type, ordering_key, payload, \
         on_outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {EVENT_COLUMNS}"
    );
    let mut records = Vec::with_capacity(events.len());
    for e in events {
        let new = NewEventRow::of(e)?;
        let row: EventRow = sqlx::query_as(&insert)
            .bind(&e.event_id)
            .bind(t.0)
            .bind(&e.event_type)
            .bind(e.ordering_key.as_deref())
            .bind(&new.payload)
            .bind(new.on_outcome.as_deref())
            .bind(to_millis(now))
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        let targets: Vec<&Endpoint> = subscribers
            .iter()
            .filter(|s| s.wants(&e.event_type))
            .collect();
        if !targets.is_empty() {
            let mut qb = QueryBuilder::<Postgres>::new(
                "INSERT INTO webhook_deliveries (event_seq, endpoint_id, tenant_id, ordering_key, \
                 state, attempts, next_attempt_at, updated_at) ",
            );
            qb.push_values(targets, |mut b, endpoint| {
                b.push_bind(row.seq)
                    .push_bind(endpoint.id.as_str())
                    .push_bind(t.0)
                    .push_bind(e.ordering_key.as_deref())
                    .push("'pending'")
                    .push("0")
                    .push_bind(to_millis(now))
                    .push_bind(to_millis(now));
            });
            qb.build().execute(&mut *conn).await.map_err(store_error)?;
        }
        records.push(row.try_into()?);
    }
    Ok(records)
}

/// Leases the due deliveries: pending, unleased (or the lease ran out), to an enabled
/// endpoint, and not held back by an earlier pending delivery of the same ordering key to
/// the same endpoint. Rows another node is claiming are skipped, not waited for. The
/// ordering check only reads, so it sees an earlier delivery as pending even while another
/// node holds it locked: two nodes never take two deliveries of one key at once.
///
/// The check can only use the partial index `webhook_deliveries_order`: migration 0005
/// removed the `(endpoint_id, state)` index that a table without statistics yet (a fresh
/// outbox, before autovacuum's first ANALYZE) used instead, scanning every pending delivery
/// of the endpoint for every candidate.
const CLAIM: &str = "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1, \
     updated_at = $2 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.state = 'pending' AND d.next_attempt_at <= $2 \
     AND (d.lease_until IS NULL OR d.lease_until <= $2) AND e.enabled \
     AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
     WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key \
     AND p.state = 'pending' AND p.id < d.id)) \
     ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)";

pub(super) async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let sql = format!("{CLAIM} RETURNING {CLAIM_RETURNING}");
    let claims: Vec<ClaimRow> = sqlx::query_as(&sql)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let mut events = QueryBuilder::<Postgres>::new(format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE seq IN ("
    ));
    let mut list = events.separated(", ");
    for c in &claims {
        list.push_bind(c.event_seq);
    }
    events.push(")");
    let events: Vec<EventRow> = events
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut ids: Vec<String> = claims.iter().map(|c| c.endpoint_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let endpoints = load_endpoints(&mut tx, Which::Ids(&ids), Some(now)).await?;
    tx.commit().await.map_err(store_error)?;
    claimed(claims, events, endpoints)
}

/// Locks and reads the delivery's snapshot, asks core for the outcome's plan
/// ([`plan_finish`]) and applies it. The delivery stays locked until the plan is applied, so
/// a claim cannot take it in between; the endpoint is read, not locked, and its failure run
/// is written only when it starts or ends: every attempt to an endpoint rewriting its row
/// made them all queue on its row lock (and left a dead tuple each).
pub(super) async fn finish(
    pool: &PgPool,
    attempt: &AttemptRecord,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let sql = format!(
        "SELECT {FINISH_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events ev ON ev.seq = d.event_seq \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 FOR UPDATE OF d"
    );
    let row: FinishRow = sqlx::query_as(&sql)
        .bind(attempt.delivery_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(not_found(Entity::Delivery))?;
    let plan = plan_finish(DeliverySnapshot::try_from(row)?, attempt, outcome);
    apply_finish(&mut tx, &plan, now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(plan.is_current())
}

async fn apply_finish(
    conn: &mut PgConnection,
    plan: &FinishPlan,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let log = &plan.log;
    let new = NewAttemptRow::of(log);
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, event_id, endpoint_id, tenant_id, attempt, \
         started_at, status_code, latency_ms, response_excerpt, error, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(log.delivery_id)
    .bind(&log.event_id)
    .bind(&log.endpoint_id)
    .bind(plan.tenant.0)
    .bind(new.attempt)
    .bind(new.started_at)
    .bind(new.status_code)
    .bind(new.latency_ms)
    .bind(&log.response_excerpt)
    .bind(log.error.as_deref())
    .bind(&log.outcome)
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    if let Some(change) = plan.delivery {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, lease_until = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(change.state.as_str())
        .bind(to_millis(change.next_attempt_at))
        .bind(to_millis(now))
        .bind(log.delivery_id)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    // Each guard keeps a run another node started or ended since the snapshot.
    let run = match plan.failure_run {
        Some(FailureRun::Start(at)) => Some(
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = $1 \
                 WHERE id = $2 AND failing_since IS NULL",
            )
            .bind(to_millis(at))
            .bind(&log.endpoint_id),
        ),
        Some(FailureRun::End) => Some(
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL \
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(&log.endpoint_id),
        ),
        None => None,
    };
    if let Some(run) = run {
        run.execute(&mut *conn).await.map_err(store_error)?;
    }
    if let Some(change) = &plan.messages {
        let changed = set_message_status(&mut *conn, plan.tenant, change, now).await?;
        enqueue_events(conn, plan.tenant, &change.callbacks(changed, now), now).await?;
    }
    Ok(())
}

/// Moves the change's messages that are in one of its `replaces` statuses to its status;
/// how many moved. Shared by delivery outcomes and the channel's status reports.
pub(crate) async fn set_message_status(
    conn: &mut PgConnection,
    t: TenantId,
    change: &MessageStatusChange,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let update = &change.update;
    if update.msg_ids.is_empty() || change.replaces.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::<Postgres>::new("UPDATE messages SET status = ");
    qb.push_bind(change.status.as_str())
        .push(", updated_at = ")
        .push_bind(to_millis(now))
        .push(" WHERE tenant_id = ")
        .push_bind(t.0)
        .push(" AND call_id = ")
        .push_bind(update.call_id.as_str())
        .push(" AND status IN (");
    let mut list = qb.separated(", ");
    for s in change.replaces {
        list.push_bind(s.as_str());
    }
    qb.push(") AND msg_id IN (");
    let mut list = qb.separated(", ");
    for id in &update.msg_ids {
        list.push_bind(id.as_str());
    }
    qb.push(")");
    let changed = qb.build().execute(conn).await.map_err(store_error)?;
    Ok(changed.rows_affected())
}

/// Locks and reads the enabled endpoints in a run of failures, asks core which to disable
/// ([`plan_disable`]), disables them and enqueues their events.
pub(super) async fn disable_failing(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Endpoint>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    // Another node disabling at the same time waits here, then finds them disabled. The lock
    // leaves key-share locks alone, so enqueues to these endpoints do not wait.
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE enabled AND failing_since IS NOT NULL ORDER BY seq FOR NO KEY UPDATE"
    );
    let rows: Vec<EndpointRow> = sqlx::query_as(&sql)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let failing = rows
        .into_iter()
        .map(|r| r.into_endpoint(Vec::new()))
        .collect::<StoreResult<Vec<_>>>()?;
    let plan = plan_disable(&failing, cutoff);
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    for d in &plan {
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(&d.reason)
        .bind(to_millis(now))
        .bind(&d.endpoint_id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    }
    let ids: Vec<String> = plan.iter().map(|d| d.endpoint_id.clone()).collect();
    let disabled = load_endpoints(&mut tx, Which::Ids(&ids), Some(now)).await?;
    for d in plan {
        enqueue_events(&mut tx, d.tenant, &[d.event], now).await?;
    }
    tx.commit().await.map_err(store_error)?;
    Ok(disabled)
}
