//! What operators see and redo on SQLite: events with their deliveries, the attempt log,
//! replays, endpoint health and outbox gauges.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tiller_core::{
    clock::to_millis,
    webhooks::{AttemptRecord, EndpointHealth, EventQuery, EventSummary, OutboxStats},
    StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    error::store_error,
    rows::{
        health, summaries, AttemptRow, DeliveryStateRow, EventRow, HealthRow, ATTEMPT_COLUMNS,
        EVENT_COLUMNS,
    },
    sqlite::writer::{execute, one},
};

/// Makes deliveries pending again, due at once, with their attempts reset.
const REPLAY: &str = "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, \
     next_attempt_at = ?, lease_until = NULL, updated_at = ?";

/// Per endpoint: delivery counts by state, and the latest attempt.
const HEALTH: &str = "SELECT e.id AS endpoint_id, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
      AND d.state = 'pending') AS pending, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
      AND d.state = 'delivered') AS delivered, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
      AND d.state = 'dead') AS dead, \
     (SELECT a.started_at FROM webhook_attempts a WHERE a.endpoint_id = e.id \
      ORDER BY a.started_at DESC, a.id DESC LIMIT 1) AS last_attempt_at, \
     (SELECT a.status_code FROM webhook_attempts a WHERE a.endpoint_id = e.id \
      ORDER BY a.started_at DESC, a.id DESC LIMIT 1) AS last_status_code \
     FROM webhook_endpoints e WHERE e.tenant_id = ?";

async fn event_seq(conn: &mut SqliteConnection, t: TenantId, event_id: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT seq FROM webhook_events WHERE tenant_id = ? AND event_id = ?")
        .bind(t.0)
        .bind(event_id)
        .fetch_one(conn)
        .await
        .map_err(store_error)
}

pub(super) async fn list_events(
    reader: &SqlitePool,
    t: TenantId,
    q: &EventQuery,
) -> StoreResult<Vec<EventSummary>> {
    // One read transaction: events and their deliveries from the same snapshot.
    let mut tx = reader.begin().await.map_err(store_error)?;
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
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
            " AND EXISTS (SELECT 1 FROM webhook_deliveries d \
             WHERE d.event_seq = webhook_events.seq AND d.state = ",
        )
        .push_bind(state.as_str())
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
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT event_seq, endpoint_id, state, attempts FROM webhook_deliveries \
         WHERE tenant_id = ",
    );
    qb.push_bind(t.0).push(" AND event_seq IN (");
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
    reader: &SqlitePool,
    t: TenantId,
    event_id: &str,
) -> StoreResult<Vec<AttemptRecord>> {
    let mut tx = reader.begin().await.map_err(store_error)?;
    event_seq(&mut tx, t, event_id).await?;
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE tenant_id = ? AND event_id = ? \
         ORDER BY started_at, id"
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
/// written gets none. Runs on the writer thread.
pub(super) fn replay_event(
    conn: &Connection,
    t: TenantId,
    event_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let seq: i64 = one(
        conn,
        "SELECT seq FROM webhook_events WHERE tenant_id = ? AND event_id = ?",
        params![t.0, event_id],
    )?;
    let sql = format!("{REPLAY} WHERE tenant_id = ? AND event_seq = ?");
    execute(
        conn,
        &sql,
        params![to_millis(now), to_millis(now), t.0, seq],
    )
}

/// Runs on the writer thread.
pub(super) fn replay_dead(
    conn: &Connection,
    t: TenantId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let sql = format!(
        "{REPLAY} WHERE tenant_id = ? AND state = 'dead' AND event_seq IN \
         (SELECT seq FROM webhook_events WHERE tenant_id = ? AND created_at >= ? \
         AND created_at <= ?)"
    );
    execute(
        conn,
        &sql,
        params![
            to_millis(now),
            to_millis(now),
            t.0,
            t.0,
            to_millis(from),
            to_millis(to)
        ],
    )
}

/// Endpoints as `endpoints` returns them (oldest first, secrets after the last rotation).
pub(super) async fn endpoint_health(
    reader: &SqlitePool,
    t: TenantId,
) -> StoreResult<Vec<EndpointHealth>> {
    let mut tx = reader.begin().await.map_err(store_error)?;
    let endpoints = load_endpoints(&mut tx, Which::Tenant(t), None).await?;
    let rows: Vec<HealthRow> = sqlx::query_as(HEALTH)
        .bind(t.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok(health(endpoints, rows))
}

pub(super) async fn outbox_stats(
    reader: &SqlitePool,
    now: DateTime<Utc>,
) -> StoreResult<OutboxStats> {
    let (pending, in_flight): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE lease_until > ?) FROM webhook_deliveries \
         WHERE state = 'pending'",
    )
    .bind(to_millis(now))
    .fetch_one(reader)
    .await
    .map_err(store_error)?;
    Ok(OutboxStats {
        pending: u64::try_from(pending).unwrap_or_default(),
        in_flight: u64::try_from(in_flight).unwrap_or_default(),
    })
}
