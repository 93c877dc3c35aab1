//! The outbox on SQLite: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value, Connection};
use tiller_core::{
    clock::to_millis,
    jobs::JobKind,
    webhooks::{
        delivery_jobs, plan_disable, plan_finish, AttemptRecord, ClaimedDelivery, DeliverySnapshot,
        Endpoint, EventRecord, FailureRun, FinishPlan, MessageStatusChange, NewEvent, Outcome,
    },
    Entity, StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    rows::{
        claimed, EndpointRow, EventRow, FinishRow, NewAttemptRow, NewEventRow, ENDPOINT_COLUMNS,
        EVENT_COLUMNS, FINISH_COLUMNS, FINISH_FROM,
    },
    sqlite::{
        jobs,
        statements::{all, execute, found, one, placeholders},
    },
};

/// Writes `events` and, for each, its delivery jobs ([`delivery_jobs`]): one per endpoint
/// of tenant `t` that wants its type, enabled or not (a disabled endpoint's lane is held,
/// so its deliveries wait until it is enabled again and nothing accepted is lost). Runs in
/// the caller's job on the writer thread: `enqueue`, `append_message` and
/// `disable_failing_endpoints` all write events through here.
pub(crate) fn enqueue_events(
    conn: &Connection,
    t: TenantId,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ? ORDER BY seq"
    );
    let rows: Vec<EndpointRow> = all(conn, &sql, params![t.0])?;
    // Secrets play no part in choosing subscribers.
    let subscribers = rows
        .into_iter()
        .map(|r| r.into_endpoint(Vec::new()))
        .collect::<StoreResult<Vec<_>>>()?;
    let insert = format!(
        "INSERT INTO webhook_events (event_id, tenant_id, event_type, ordering_key, payload, \
         on_outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {EVENT_COLUMNS}"
    );
    let mut records = Vec::with_capacity(events.len());
    for e in events {
        let new = NewEventRow::of(e)?;
        let row: EventRow = one(
            conn,
            &insert,
            params![
                &e.event_id,
                t.0,
                &e.event_type,
                e.ordering_key.as_deref(),
                &new.payload,
                new.on_outcome.as_deref(),
                to_millis(now),
            ],
        )?;
        let deliveries = delivery_jobs(
            &subscribers,
            &e.event_type,
            e.ordering_key.as_deref(),
            row.seq,
            now,
        );
        jobs::insert(conn, &deliveries, now)?;
        records.push(row.try_into()?);
    }
    Ok(records)
}

/// Leases the due delivery jobs (see [`jobs::claim`]: an endpoint is a lane, held while
/// the endpoint is disabled; a session's events go in order) with their events and
/// endpoints. The single writer serialises claims, so no job is claimed twice.
pub(super) fn claim(
    conn: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let claims = jobs::claim(
        conn,
        JobKind::WebhookDelivery,
        None,
        now,
        lease_until,
        limit,
    )?;
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE seq IN ({})",
        placeholders(claims.len())
    );
    let events: Vec<EventRow> = all(
        conn,
        &sql,
        params_from_iter(claims.iter().map(|c| c.subject)),
    )?;
    let mut ids: Vec<String> = claims.iter().map(|c| c.lane.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let endpoints = load_endpoints(conn, Which::Ids(&ids), Some(now))?;
    claimed(claims, events, endpoints)
}

/// Reads the delivery's snapshot, asks core for the outcome's plan ([`plan_finish`]) and
/// applies it, in the caller's job on the writer thread.
pub(super) fn finish(
    conn: &Connection,
    attempt: &AttemptRecord,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let sql = format!("SELECT {FINISH_COLUMNS} FROM {FINISH_FROM} WHERE j.id = ?");
    let row: FinishRow = found(conn, &sql, params![attempt.delivery_id], Entity::Delivery)?;
    let plan = plan_finish(DeliverySnapshot::try_from(row)?, attempt, outcome);
    apply_finish(conn, &plan, now)?;
    Ok(plan.is_current())
}

fn apply_finish(conn: &Connection, plan: &FinishPlan, now: DateTime<Utc>) -> StoreResult<()> {
    let log = &plan.log;
    let new = NewAttemptRow::of(log);
    execute(
        conn,
        "INSERT INTO webhook_attempts (job_id, event_id, endpoint_id, tenant_id, attempt, \
         started_at, status_code, latency_ms, response_excerpt, error, outcome) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            log.delivery_id,
            &log.event_id,
            &log.endpoint_id,
            plan.tenant.0,
            new.attempt,
            new.started_at,
            new.status_code,
            new.latency_ms,
            &log.response_excerpt,
            log.error.as_deref(),
            &log.outcome,
        ],
    )?;
    if let Some(change) = &plan.delivery {
        jobs::apply(conn, log.delivery_id, change, now)?;
    }
    match plan.failure_run {
        Some(FailureRun::Start(at)) => execute(
            conn,
            "UPDATE webhook_endpoints SET failing_since = ? \
             WHERE id = ? AND failing_since IS NULL",
            params![to_millis(at), &log.endpoint_id],
        )?,
        Some(FailureRun::End) => execute(
            conn,
            "UPDATE webhook_endpoints SET failing_since = NULL \
             WHERE id = ? AND failing_since IS NOT NULL",
            params![&log.endpoint_id],
        )?,
        None => 0,
    };
    if let Some(change) = &plan.messages {
        let changed = set_message_status(conn, plan.tenant, change, now)?;
        enqueue_events(conn, plan.tenant, &change.callbacks(changed, now), now)?;
    }
    Ok(())
}

/// Moves the change's messages that are in one of its `replaces` statuses to its status;
/// how many moved. Shared by delivery outcomes and the channel's status reports.
pub(crate) fn set_message_status(
    conn: &Connection,
    t: TenantId,
    change: &MessageStatusChange,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let update = &change.update;
    if update.msg_ids.is_empty() || change.replaces.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE messages SET status = ?, updated_at = ? WHERE tenant_id = ? AND call_id = ? \
         AND status IN ({}) AND msg_id IN ({})",
        placeholders(change.replaces.len()),
        placeholders(update.msg_ids.len())
    );
    let mut values = vec![
        Value::from(change.status.as_str().to_owned()),
        Value::from(to_millis(now)),
        Value::from(t.0),
        Value::from(update.call_id.as_str().to_owned()),
    ];
    values.extend(
        change
            .replaces
            .iter()
            .map(|s| Value::from(s.as_str().to_owned())),
    );
    values.extend(update.msg_ids.iter().cloned().map(Value::from));
    execute(conn, &sql, params_from_iter(values))
}

/// Reads the enabled endpoints in a run of failures, asks core which to disable
/// ([`plan_disable`]), disables them and enqueues their events.
pub(super) fn disable_failing(
    conn: &Connection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE enabled AND failing_since IS NOT NULL ORDER BY seq"
    );
    let rows: Vec<EndpointRow> = all(conn, &sql, params![])?;
    let failing = rows
        .into_iter()
        .map(|r| r.into_endpoint(Vec::new()))
        .collect::<StoreResult<Vec<_>>>()?;
    let plan = plan_disable(&failing, cutoff);
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = plan.iter().map(|d| d.endpoint_id.clone()).collect();
    for d in &plan {
        execute(
            conn,
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ? \
             WHERE id = ?",
            params![&d.reason, to_millis(now), &d.endpoint_id],
        )?;
    }
    let disabled = load_endpoints(conn, Which::Ids(&ids), Some(now))?;
    for endpoint in &disabled {
        hold_deliveries(conn, endpoint)?;
    }
    for d in plan {
        enqueue_events(conn, d.tenant, &[d.event], now)?;
    }
    Ok(disabled)
}

/// Keeps the lane of the endpoint's deliveries held or free as its state says
/// ([`Endpoint::holds_deliveries`]), after any write of `enabled`.
pub(crate) fn hold_deliveries(conn: &Connection, endpoint: &Endpoint) -> StoreResult<()> {
    jobs::hold_lane(
        conn,
        JobKind::WebhookDelivery,
        &endpoint.id,
        endpoint.holds_deliveries(),
    )
}
