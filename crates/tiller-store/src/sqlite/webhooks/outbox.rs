//! The outbox on SQLite: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value, Connection};
use tiller_core::{
    clock::{from_millis, to_millis},
    messages::MessageStatus,
    webhooks::{
        AttemptRecord, ClaimedDelivery, Endpoint, EventRecord, MessageStatusUpdate, NewEvent,
        Outcome,
    },
    StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    rows::{
        claimed, disabled_event, disabled_reason, status_events, ClaimRow, EndpointRow, EventRow,
        FinishRow, NewAttemptRow, NewEventRow, OutcomeChange, CLAIM_RETURNING, ENDPOINT_COLUMNS,
        EVENT_COLUMNS,
    },
    sqlite::statements::{all, execute, one, placeholders},
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

/// The log takes its tenant, event and endpoint from the delivery rather than from the
/// caller's record, and its `outcome` from `outcome`.
pub(super) fn finish(
    conn: &Connection,
    attempt: &AttemptRecord,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let delivery: FinishRow = one(
        conn,
        "SELECT d.tenant_id, d.state, d.attempts, d.endpoint_id, ev.event_id, ev.on_outcome \
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.seq = d.event_seq \
         WHERE d.id = ?",
        params![attempt.delivery_id],
    )?;
    let change = OutcomeChange::of(outcome);
    let new = NewAttemptRow::of(attempt);
    execute(
        conn,
        "INSERT INTO webhook_attempts (delivery_id, event_id, endpoint_id, tenant_id, attempt, \
         started_at, status_code, latency_ms, response_excerpt, error, outcome) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            attempt.delivery_id,
            &delivery.event_id,
            &delivery.endpoint_id,
            delivery.tenant_id,
            new.attempt,
            new.started_at,
            new.status_code,
            new.latency_ms,
            &attempt.response_excerpt,
            attempt.error.as_deref(),
            change.label,
        ],
    )?;
    let current = delivery.is_current(attempt.attempt);
    if current {
        execute(
            conn,
            "UPDATE webhook_deliveries SET state = ?, \
             next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL, updated_at = ? \
             WHERE id = ?",
            params![
                change.state,
                change.next_attempt_at,
                to_millis(now),
                attempt.delivery_id
            ],
        )?;
        // Written only when the failure run starts or ends, not on every attempt.
        execute(
            conn,
            "UPDATE webhook_endpoints SET failing_since = CASE WHEN ?1 THEN NULL ELSE ?2 END \
             WHERE id = ?3 AND (failing_since IS NULL) <> ?1",
            params![change.success, new.started_at, &delivery.endpoint_id],
        )?;
        if let (Some((status, replaces)), Some(update)) = (change.messages, delivery.on_outcome()?)
        {
            let t = TenantId(delivery.tenant_id);
            let changed = set_message_status(conn, t, &update, status, replaces, now)?;
            let events = status_events(&update, status, changed, now);
            enqueue_events(conn, t, &events, now)?;
        }
    }
    Ok(current)
}

/// Moves the event's messages that are in one of the `replaces` statuses to `status`.
fn set_message_status(
    conn: &Connection,
    t: TenantId,
    update: &MessageStatusUpdate,
    status: MessageStatus,
    replaces: &[&str],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if update.msg_ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE messages SET status = ?, updated_at = ? WHERE tenant_id = ? AND call_id = ? \
         AND status IN ({}) AND msg_id IN ({})",
        placeholders(replaces.len()),
        placeholders(update.msg_ids.len())
    );
    let mut values = vec![
        Value::from(status.as_str().to_owned()),
        Value::from(to_millis(now)),
        Value::from(t.0),
        Value::from(update.call_id.as_str().to_owned()),
    ];
    values.extend(replaces.iter().map(|s| Value::from((*s).to_owned())));
    values.extend(update.msg_ids.iter().cloned().map(Value::from));
    execute(conn, &sql, params_from_iter(values))
}

pub(super) fn disable_failing(
    conn: &Connection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Endpoint>> {
    let failing: Vec<(String, i64)> = all(
        conn,
        "SELECT id, failing_since FROM webhook_endpoints WHERE enabled AND failing_since <= ? \
         ORDER BY seq",
        params![to_millis(cutoff)],
    )?;
    if failing.is_empty() {
        return Ok(Vec::new());
    }
    for (id, since) in &failing {
        execute(
            conn,
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ? \
             WHERE id = ?",
            params![disabled_reason(from_millis(*since)), to_millis(now), id],
        )?;
    }
    let ids: Vec<String> = failing.into_iter().map(|(id, _)| id).collect();
    let disabled = load_endpoints(conn, Which::Ids(&ids), Some(now))?;
    // Written after the disabling, so the endpoint is not among its own event's subscribers.
    for endpoint in &disabled {
        let since = endpoint.failing_since.unwrap_or(now);
        let event = disabled_event(endpoint, since);
        enqueue_events(conn, endpoint.tenant, &[event], now)?;
    }
    Ok(disabled)
}
