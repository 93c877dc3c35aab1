//! The outbox on SQLite: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value, Connection};
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
    rows::{
        claimed, ClaimRow, EndpointRow, EventRow, FinishRow, NewAttemptRow, NewEventRow,
        CLAIM_RETURNING, ENDPOINT_COLUMNS, EVENT_COLUMNS, FINISH_COLUMNS,
    },
    sqlite::statements::{all, execute, found, one, placeholders},
};

/// Writes `events` and, for each, one pending delivery due at `now` per endpoint of tenant
/// `t` that wants its type, enabled or not: a disabled endpoint's deliveries wait until it
/// is enabled again (claims skip disabled endpoints), so nothing accepted is lost. Runs in
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
        let targets: Vec<&Endpoint> = subscribers
            .iter()
            .filter(|s| s.wants(&e.event_type))
            .collect();
        if !targets.is_empty() {
            let sql = format!(
                "INSERT INTO webhook_deliveries (event_seq, endpoint_id, tenant_id, ordering_key, \
                 state, attempts, next_attempt_at, updated_at) VALUES {}",
                vec!["(?, ?, ?, ?, 'pending', 0, ?, ?)"; targets.len()].join(", ")
            );
            let mut values = Vec::with_capacity(targets.len() * 6);
            for endpoint in targets {
                values.extend([
                    Value::from(row.seq),
                    Value::from(endpoint.id.clone()),
                    Value::from(t.0),
                    Value::from(e.ordering_key.clone()),
                    Value::from(to_millis(now)),
                    Value::from(to_millis(now)),
                ]);
            }
            execute(conn, &sql, params_from_iter(values))?;
        }
        records.push(row.try_into()?);
    }
    Ok(records)
}

/// Leases the due deliveries: pending, unleased (or the lease ran out), to an enabled
/// endpoint, and not held back by an earlier pending delivery of the same ordering key to
/// the same endpoint. The single writer serialises claims, so no row is claimed twice.
const CLAIM: &str = "UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1, \
     updated_at = ? WHERE id IN (SELECT d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE d.state = 'pending' AND d.next_attempt_at <= ? \
     AND (d.lease_until IS NULL OR d.lease_until <= ?) AND e.enabled \
     AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
     WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key \
     AND p.state = 'pending' AND p.id < d.id)) \
     ORDER BY d.next_attempt_at, d.id LIMIT ?)";

pub(super) fn claim(
    conn: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let sql = format!("{CLAIM} RETURNING {CLAIM_RETURNING}");
    let claims: Vec<ClaimRow> = all(
        conn,
        &sql,
        params![
            to_millis(lease_until),
            to_millis(now),
            to_millis(now),
            to_millis(now),
            i64::from(limit)
        ],
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
        params_from_iter(claims.iter().map(|c| c.event_seq)),
    )?;
    let mut ids: Vec<String> = claims.iter().map(|c| c.endpoint_id.clone()).collect();
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
    let sql = format!(
        "SELECT {FINISH_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events ev ON ev.seq = d.event_seq \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?"
    );
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
        "INSERT INTO webhook_attempts (delivery_id, event_id, endpoint_id, tenant_id, attempt, \
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
    if let Some(change) = plan.delivery {
        execute(
            conn,
            "UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, lease_until = NULL, \
             updated_at = ? WHERE id = ?",
            params![
                change.state.as_str(),
                to_millis(change.next_attempt_at),
                to_millis(now),
                log.delivery_id
            ],
        )?;
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
    for d in &plan {
        execute(
            conn,
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ? \
             WHERE id = ?",
            params![&d.reason, to_millis(now), &d.endpoint_id],
        )?;
    }
    let ids: Vec<String> = plan.iter().map(|d| d.endpoint_id.clone()).collect();
    let disabled = load_endpoints(conn, Which::Ids(&ids), Some(now))?;
    for d in plan {
        enqueue_events(conn, d.tenant, &[d.event], now)?;
    }
    Ok(disabled)
}
