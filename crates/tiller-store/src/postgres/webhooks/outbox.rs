//! The outbox on PostgreSQL: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
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
    error::store_error,
    rows::{
        claimed, disabled_event, disabled_reason, status_events, ClaimRow, EndpointRow, EventRow,
        FinishRow, NewAttemptRow, NewEventRow, OutcomeChange, CLAIM_RETURNING, ENDPOINT_COLUMNS,
        EVENT_COLUMNS,
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

/// The log takes its tenant, event and endpoint from the delivery rather than from the
/// caller's record, and its `outcome` from `outcome`. The delivery stays locked until the
/// outcome is applied, so a claim cannot take it in between.
pub(super) async fn finish(
    pool: &PgPool,
    attempt: &AttemptRecord,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let delivery: FinishRow = sqlx::query_as(
        "SELECT d.tenant_id, d.state, d.attempts, d.endpoint_id, ev.event_id, ev.on_outcome \
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.seq = d.event_seq \
         WHERE d.id = $1 FOR UPDATE OF d",
    )
    .bind(attempt.delivery_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(store_error)?;
    let change = OutcomeChange::of(outcome);
    let new = NewAttemptRow::of(attempt);
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, event_id, endpoint_id, tenant_id, attempt, \
         started_at, status_code, latency_ms, response_excerpt, error, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(attempt.delivery_id)
    .bind(&delivery.event_id)
    .bind(&delivery.endpoint_id)
    .bind(delivery.tenant_id)
    .bind(new.attempt)
    .bind(new.started_at)
    .bind(new.status_code)
    .bind(new.latency_ms)
    .bind(&attempt.response_excerpt)
    .bind(attempt.error.as_deref())
    .bind(change.label)
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    let current = delivery.is_current(attempt.attempt);
    if current {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, \
             next_attempt_at = COALESCE($2, next_attempt_at), lease_until = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(change.state)
        .bind(change.next_attempt_at)
        .bind(to_millis(now))
        .bind(attempt.delivery_id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        // Written only when the failure run starts or ends: every attempt to an endpoint
        // rewriting its row made them all queue on its row lock (and left a dead tuple each).
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = CASE WHEN $1 THEN NULL ELSE $2 END \
             WHERE id = $3 AND (failing_since IS NULL) <> $1",
        )
        .bind(change.success)
        .bind(new.started_at)
        .bind(&delivery.endpoint_id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if let (Some((status, replaces)), Some(update)) = (change.messages, delivery.on_outcome()?)
        {
            let t = TenantId(delivery.tenant_id);
            let changed = set_message_status(&mut tx, t, &update, status, replaces, now).await?;
            let events = status_events(&update, status, changed, now);
            enqueue_events(&mut tx, t, &events, now).await?;
        }
    }
    tx.commit().await.map_err(store_error)?;
    Ok(current)
}

/// Moves the event's messages that are in one of the `replaces` statuses to `status`.
async fn set_message_status(
    conn: &mut PgConnection,
    t: TenantId,
    update: &MessageStatusUpdate,
    status: MessageStatus,
    replaces: &[&str],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if update.msg_ids.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::<Postgres>::new("UPDATE messages SET status = ");
    qb.push_bind(status.as_str())
        .push(", updated_at = ")
        .push_bind(to_millis(now))
        .push(" WHERE tenant_id = ")
        .push_bind(t.0)
        .push(" AND call_id = ")
        .push_bind(update.call_id.as_str())
        .push(" AND status IN (");
    let mut list = qb.separated(", ");
    for s in replaces {
        list.push_bind(*s);
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

pub(super) async fn disable_failing(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Endpoint>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    // Another node disabling at the same time waits here, then finds them disabled. The lock
    // leaves key-share locks alone, so enqueues to these endpoints do not wait.
    let failing: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, failing_since FROM webhook_endpoints WHERE enabled AND failing_since <= $1 \
         ORDER BY seq FOR NO KEY UPDATE",
    )
    .bind(to_millis(cutoff))
    .fetch_all(&mut *tx)
    .await
    .map_err(store_error)?;
    if failing.is_empty() {
        return Ok(Vec::new());
    }
    for (id, since) in &failing {
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(disabled_reason(from_millis(*since)))
        .bind(to_millis(now))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    }
    let ids: Vec<String> = failing.into_iter().map(|(id, _)| id).collect();
    let disabled = load_endpoints(&mut tx, Which::Ids(&ids), Some(now)).await?;
    // Written after the disabling, so the endpoint is not among its own event's subscribers.
    for endpoint in &disabled {
        let since = endpoint.failing_since.unwrap_or(now);
        let event = disabled_event(endpoint, since);
        enqueue_events(&mut tx, endpoint.tenant, &[event], now).await?;
    }
    tx.commit().await.map_err(store_error)?;
    Ok(disabled)
}
