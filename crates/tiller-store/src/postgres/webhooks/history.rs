//! What operators see and redo on PostgreSQL: events with their deliveries, the attempt log,
//! replays, endpoint health and outbox gauges.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    jobs::JobChange,
    webhooks::{AttemptRecord, EndpointHealth, EventQuery, EventSummary, OutboxStats},
    Entity, StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    error::{not_found, store_error},
    rows::{
        health, summaries, AttemptRow, DeliveryStateRow, EventRow, HealthRow, ATTEMPT_COLUMNS,
        DELIVERY_STATE_COLUMNS, EVENT_COLUMNS,
    },
};

/// A replay's delivery jobs are made pending again ([`JobChange::again`], `$1`–`$3`).
const REPLAY: &str = "UPDATE jobs SET state = $1, due_at = $2, attempts = $3, \
     lease_until = NULL, updated_at = $2 WHERE kind = 'webhook.delivery'";

/// Per endpoint: delivery counts by state, and the latest attempt.
const HEALTH: &str = "SELECT e.id AS endpoint_id, \
     (SELECT COUNT(*) FROM jobs j WHERE j.kind = 'webhook.delivery' AND j.lane = e.id \
      AND j.state = 'pending') AS pending, \
     (SELECT COUNT(*) FROM jobs j WHERE j.kind = 'webhook.delivery' AND j.lane = e.id \
      AND j.state = 'done') AS delivered, \
     (SELECT COUNT(*) FROM jobs j WHERE j.kind = 'webhook.delivery' AND j.lane = e.id \
      AND j.state = 'dead') AS dead, \
     (SELECT a.started_at FROM webhook_attempts a WHERE a.endpoint_id = e.id \
      ORDER BY a.started_at DESC, a.id DESC LIMIT 1) AS last_attempt_at, \
     (SELECT a.status_code FROM webhook_attempts a WHERE a.endpoint_id = e.id \
      ORDER BY a.started_at DESC, a.id DESC LIMIT 1) AS last_status_code \
     FROM webhook_endpoints e WHERE e.tenant_id = $1";

async fn event_seq(conn: &mut PgConnection, t: TenantId, event_id: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT seq FROM webhook_events WHERE tenant_id = $1 AND event_id = $2")
        .bind(t.0)
        .bind(event_id)
        .fetch_one(conn)
        .await
        .map_err(not_found(Entity::Event))
}

pub(super) async fn list_events(
    pool: &PgPool,
    t: TenantId,
    q: &EventQuery,
) -> StoreResult<Vec<EventSummary>> {
    // One read transaction: events and their deliveries from the same snapshot.
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE tenant_id = "
    ));
    qb.push_bind(t.0);
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(to_millis(from));
    }
    if let Some(to) = q.to {
        qb.push(" AND created_at <= ").push_bind(to_millis(to));
    }
    if let Some(state) = q.state {
        qb.push(
            " AND EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'webhook.delivery' \
             AND j.subject = webhook_events.seq AND j.state = ",
        )
        .push_bind(state.job_state().as_str())
        .push(")");
    }
    qb.push(" ORDER BY created_at DESC, seq DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let events: Vec<EventRow> = qb
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {DELIVERY_STATE_COLUMNS} FROM jobs WHERE kind = 'webhook.delivery' \
         AND tenant_id = "
    ));
    qb.push_bind(t.0).push(" AND subject IN (");
    let mut list = qb.separated(", ");
    for e in &events {
        list.push_bind(e.seq);
    }
    qb.push(") ORDER BY id");
    let deliveries: Vec<DeliveryStateRow> = qb
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    summaries(events, deliveries)
}

pub(super) async fn attempts(
    pool: &PgPool,
    t: TenantId,
    event_id: &str,
) -> StoreResult<Vec<AttemptRecord>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    event_seq(&mut tx, t, event_id).await?;
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE tenant_id = $1 \
         AND event_id = $2 ORDER BY started_at, id"
    );
    let rows: Vec<AttemptRow> = sqlx::query_as(&sql)
        .bind(t.0)
        .bind(event_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    rows.into_iter().map(AttemptRecord::try_from).collect()
}

/// Resets the deliveries the event has; an endpoint subscribed after the event was
/// written gets none.
pub(super) async fn replay_event(
    pool: &PgPool,
    t: TenantId,
    event_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let seq = event_seq(&mut tx, t, event_id).await?;
    let again = JobChange::again(now);
    let sql = format!("{REPLAY} AND tenant_id = $4 AND subject = $5");
    let replayed = sqlx::query(&sql)
        .bind(again.state.as_str())
        .bind(to_millis(again.due_at))
        .bind(i64::from(again.attempts))
        .bind(t.0)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?
        .rows_affected();
    tx.commit().await.map_err(store_error)?;
    Ok(replayed)
}

pub(super) async fn replay_dead(
    pool: &PgPool,
    t: TenantId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let again = JobChange::again(now);
    let sql = format!(
        "{REPLAY} AND tenant_id = $4 AND state = 'dead' AND subject IN \
         (SELECT seq FROM webhook_events WHERE tenant_id = $4 AND created_at >= $5 \
         AND created_at <= $6)"
    );
    let replayed = sqlx::query(&sql)
        .bind(again.state.as_str())
        .bind(to_millis(again.due_at))
        .bind(i64::from(again.attempts))
        .bind(t.0)
        .bind(to_millis(from))
        .bind(to_millis(to))
        .execute(pool)
        .await
        .map_err(store_error)?
        .rows_affected();
    Ok(replayed)
}

/// Endpoints as `endpoints` returns them (oldest first, secrets after the last rotation).
pub(super) async fn endpoint_health(
    pool: &PgPool,
    t: TenantId,
) -> StoreResult<Vec<EndpointHealth>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let endpoints = load_endpoints(&mut tx, Which::Tenant(t), None).await?;
    let rows: Vec<HealthRow> = sqlx::query_as(HEALTH)
        .bind(t.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok(health(endpoints, rows))
}

pub(super) async fn outbox_stats(pool: &PgPool, now: DateTime<Utc>) -> StoreResult<OutboxStats> {
    let (pending, in_flight): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE lease_until > $1) FROM jobs \
         WHERE kind = 'webhook.delivery' AND state = 'pending'",
    )
    .bind(to_millis(now))
    .fetch_one(pool)
    .await
    .map_err(store_error)?;
    Ok(OutboxStats {
        pending: u64::try_from(pending).unwrap_or_default(),
        in_flight: u64::try_from(in_flight).unwrap_or_default(),
    })
}
