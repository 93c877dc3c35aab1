//! What operators see and redo on SQLite: events with their deliveries, the attempt log,
//! replays, endpoint health and outbox gauges.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use tiller_core::{
    clock::to_millis,
    jobs::JobChange,
    webhooks::{AttemptRecord, EndpointHealth, EventQuery, EventSummary, OutboxStats},
    Entity, StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    rows::{
        health, summaries, AttemptRow, DeliveryStateRow, EventRow, HealthRow, ATTEMPT_COLUMNS,
        DELIVERY_STATE_COLUMNS, EVENT_COLUMNS,
    },
    sqlite::statements::{all, execute, found, one, Query},
};

/// A replay's delivery jobs are made pending again ([`JobChange::again`]).
const REPLAY: &str = "UPDATE jobs SET state = ?, due_at = ?, attempts = ?, lease_until = NULL, \
     updated_at = ? WHERE kind = 'webhook.delivery'";

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
     FROM webhook_endpoints e WHERE e.tenant_id = ?";

fn event_seq(conn: &Connection, t: TenantId, event_id: &str) -> StoreResult<i64> {
    found(
        conn,
        "SELECT seq FROM webhook_events WHERE tenant_id = ? AND event_id = ?",
        params![t.0, event_id],
        Entity::Event,
    )
}

/// Events and their deliveries; the caller runs it in one read transaction.
pub(super) fn list_events(
    conn: &Connection,
    t: TenantId,
    q: &EventQuery,
) -> StoreResult<Vec<EventSummary>> {
    let mut query = Query::new(format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE tenant_id = "
    ));
    query.bind(t.0);
    if let Some(from) = q.from {
        query.push(" AND created_at >= ").bind(to_millis(from));
    }
    if let Some(to) = q.to {
        query.push(" AND created_at <= ").bind(to_millis(to));
    }
    if let Some(state) = q.state {
        query
            .push(
                " AND EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'webhook.delivery' \
                 AND j.subject = webhook_events.seq AND j.state = ",
            )
            .bind(state.job_state().as_str().to_owned())
            .push(")");
    }
    query
        .push(" ORDER BY created_at DESC, seq DESC LIMIT ")
        .bind(i64::from(q.limit));
    let events: Vec<EventRow> = query.all(conn)?;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::new(format!(
        "SELECT {DELIVERY_STATE_COLUMNS} FROM jobs WHERE kind = 'webhook.delivery' \
         AND tenant_id = "
    ));
    query
        .bind(t.0)
        .push(" AND subject IN (")
        .bind_list(events.iter().map(|e| e.seq))
        .push(") ORDER BY id");
    let deliveries: Vec<DeliveryStateRow> = query.all(conn)?;
    summaries(events, deliveries)
}

pub(super) fn attempts(
    conn: &Connection,
    t: TenantId,
    event_id: &str,
) -> StoreResult<Vec<AttemptRecord>> {
    event_seq(conn, t, event_id)?;
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE tenant_id = ? AND event_id = ? \
         ORDER BY started_at, id"
    );
    let rows: Vec<AttemptRow> = all(conn, &sql, params![t.0, event_id])?;
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
    let seq = event_seq(conn, t, event_id)?;
    let again = JobChange::again(now);
    let sql = format!("{REPLAY} AND tenant_id = ? AND subject = ?");
    execute(
        conn,
        &sql,
        params![
            again.state.as_str(),
            to_millis(again.due_at),
            again.attempts,
            to_millis(now),
            t.0,
            seq
        ],
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
    let again = JobChange::again(now);
    let sql = format!(
        "{REPLAY} AND tenant_id = ? AND state = 'dead' AND subject IN \
         (SELECT seq FROM webhook_events WHERE tenant_id = ? AND created_at >= ? \
         AND created_at <= ?)"
    );
    execute(
        conn,
        &sql,
        params![
            again.state.as_str(),
            to_millis(again.due_at),
            again.attempts,
            to_millis(now),
            t.0,
            t.0,
            to_millis(from),
            to_millis(to)
        ],
    )
}

/// Endpoints as `endpoints` returns them (oldest first, secrets after the last rotation).
pub(super) fn endpoint_health(conn: &Connection, t: TenantId) -> StoreResult<Vec<EndpointHealth>> {
    let endpoints = load_endpoints(conn, Which::Tenant(t), None)?;
    let rows: Vec<HealthRow> = all(conn, HEALTH, params![t.0])?;
    Ok(health(endpoints, rows))
}

pub(super) fn outbox_stats(conn: &Connection, now: DateTime<Utc>) -> StoreResult<OutboxStats> {
    let (pending, in_flight): (i64, i64) = one(
        conn,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE lease_until > ?) FROM jobs \
         WHERE kind = 'webhook.delivery' AND state = 'pending'",
        params![to_millis(now)],
    )?;
    Ok(OutboxStats {
        pending: u64::try_from(pending).unwrap_or_default(),
        in_flight: u64::try_from(in_flight).unwrap_or_default(),
    })
}
