//! The outbox on PostgreSQL: events with their deliveries, claims by lease, attempt outcomes
//! and the automatic disabling of failing endpoints.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    jobs::JobKind,
    webhooks::{
        delivery_jobs, plan_disable, plan_finish, AttemptRecord, ClaimedDelivery, DeliverySnapshot,
        Endpoint, EventRecord, FailureRun, FinishPlan, MessageStatusChange, NewEvent, Outcome,
    },
    Entity, StoreError, StoreResult, TenantId,
};

use super::{load_endpoints, Which};
use crate::{
    error::{not_found, store_error},
    postgres::jobs,
    rows::{
        claimed, EndpointRow, EventRow, FinishRow, NewAttemptRow, NewEventRow, ENDPOINT_COLUMNS,
        EVENT_COLUMNS, FINISH_COLUMNS, FINISH_FROM,
    },
};

/// Writes `events` and, for each, its delivery jobs ([`delivery_jobs`]): one per endpoint
/// of tenant `t` that wants its type, enabled or not (a disabled endpoint's lane is held,
/// so its deliveries wait until it is enabled again and nothing accepted is lost). Runs in
/// the caller's transaction: `enqueue`, `append_message` and `disable_failing_endpoints`
/// all write events through here.
pub(crate) async fn enqueue_events(
    conn: &mut PgConnection,
    t: TenantId,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<Vec<EventRecord>> {
    let batch = EventBatch {
        tenant: t,
        events,
        now,
    };
    enqueue_batches(conn, &[batch]).await
}

/// One caller's events: its tenant's, written at its time.
pub(crate) struct EventBatch<'a> {
    pub tenant: TenantId,
    pub events: &'a [NewEvent],
    pub now: DateTime<Utc>,
}

/// [`enqueue_events`] for the batches of a whole group (inbound messages, robot turns) in
/// two statements, whatever their tenants and times: one read of the tenants' endpoints,
/// one insert of every event and delivery job. Returns the records in the batches' order.
pub(crate) async fn enqueue_batches(
    conn: &mut PgConnection,
    batches: &[EventBatch<'_>],
) -> StoreResult<Vec<EventRecord>> {
    if batches.iter().all(|b| b.events.is_empty()) {
        return Ok(Vec::new());
    }
    let mut tenants: Vec<i64> = batches.iter().map(|b| b.tenant.0).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ANY($1) \
         ORDER BY tenant_id, seq"
    );
    let rows: Vec<EndpointRow> = sqlx::query_as(&sql)
        .bind(&tenants)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    // Secrets play no part in choosing subscribers.
    let mut subscribers: std::collections::HashMap<i64, Vec<Endpoint>> =
        std::collections::HashMap::new();
    for r in rows {
        let tenant = r.tenant_id;
        let endpoint = r.into_endpoint(Vec::new())?;
        subscribers.entry(tenant).or_default().push(endpoint);
    }
    // One round trip for them all: the events, then their delivery jobs joined on
    // `event_id`, the jobs' `subject` being their event's new seq (core plans them with 0
    // in its place). Both inserts follow the input order, so seqs and ids do too.
    let mut cols = EventColumns::default();
    for b in batches {
        let endpoints = subscribers.get(&b.tenant.0).map_or(&[][..], Vec::as_slice);
        for e in b.events {
            cols.push(b, e, endpoints)?;
        }
    }
    let insert = format!(
        "WITH ev AS (INSERT INTO webhook_events (event_id, tenant_id, event_type, \
         ordering_key, payload, on_outcome, created_at) \
         SELECT e.event_id, e.tenant_id, e.event_type, e.ordering_key, e.payload, \
           e.on_outcome, e.at \
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
           $6::text[], $7::bigint[]) WITH ORDINALITY \
           AS e (event_id, tenant_id, event_type, ordering_key, payload, on_outcome, at, ord) \
         ORDER BY e.ord RETURNING {EVENT_COLUMNS}), \
         deliveries AS (INSERT INTO jobs (kind, tenant_id, lane, order_key, subject, state, \
         attempts, due_at, updated_at) SELECT d.kind, d.tenant_id, d.lane, d.order_key, \
         ev.seq, 'pending', 0, d.due_at, d.at \
         FROM UNNEST($8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], \
           $13::text[], $14::bigint[]) WITH ORDINALITY \
           AS d (kind, tenant_id, lane, order_key, due_at, event_id, at, ord) \
         JOIN ev ON ev.event_id = d.event_id ORDER BY d.ord) \
         SELECT {EVENT_COLUMNS} FROM ev ORDER BY seq"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&insert)
        .bind(&cols.event_ids)
        .bind(&cols.tenants)
        .bind(&cols.types)
        .bind(&cols.keys)
        .bind(&cols.payloads)
        .bind(&cols.outcomes)
        .bind(&cols.at)
        .bind(&cols.job_kinds)
        .bind(&cols.job_tenants)
        .bind(&cols.job_lanes)
        .bind(&cols.job_keys)
        .bind(&cols.job_due)
        .bind(&cols.job_events)
        .bind(&cols.job_at)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    // The caller's order, whatever order the rows came back in.
    let mut by_id: std::collections::HashMap<String, EventRow> =
        rows.into_iter().map(|r| (r.event_id.clone(), r)).collect();
    batches
        .iter()
        .flat_map(|b| b.events)
        .map(|e| {
            let row = by_id
                .remove(&e.event_id)
                .ok_or(StoreError::NotFound(Entity::Event))?;
            row.try_into()
        })
        .collect()
}

/// The columns of one `enqueue_batches` statement, one array each.
#[derive(Default)]
struct EventColumns<'a> {
    event_ids: Vec<&'a str>,
    tenants: Vec<i64>,
    types: Vec<&'a str>,
    keys: Vec<Option<&'a str>>,
    payloads: Vec<String>,
    outcomes: Vec<Option<String>>,
    at: Vec<i64>,
    job_kinds: Vec<&'static str>,
    job_tenants: Vec<i64>,
    job_lanes: Vec<String>,
    job_keys: Vec<Option<String>>,
    job_due: Vec<i64>,
    job_events: Vec<&'a str>,
    job_at: Vec<i64>,
}

impl<'a> EventColumns<'a> {
    /// One event of batch `b`, with a delivery job per endpoint of its tenant that wants it.
    fn push(
        &mut self,
        b: &EventBatch<'_>,
        e: &'a NewEvent,
        endpoints: &[Endpoint],
    ) -> StoreResult<()> {
        let new = NewEventRow::of(e)?;
        let at = to_millis(b.now);
        self.event_ids.push(e.event_id.as_str());
        self.tenants.push(b.tenant.0);
        self.types.push(e.event_type.as_str());
        self.keys.push(e.ordering_key.as_deref());
        self.payloads.push(new.payload);
        self.outcomes.push(new.on_outcome);
        self.at.push(at);
        let key = e.ordering_key.as_deref();
        for j in delivery_jobs(endpoints, &e.event_type, key, 0, b.now) {
            self.job_kinds.push(j.kind.as_str());
            self.job_tenants.push(j.tenant.0);
            self.job_lanes.push(j.lane);
            self.job_keys.push(j.order_key);
            self.job_due.push(to_millis(j.due_at));
            self.job_events.push(e.event_id.as_str());
            self.job_at.push(at);
        }
        Ok(())
    }
}

/// Leases the due delivery jobs (see [`jobs::claim`]: an endpoint is a lane, held while
/// the endpoint is disabled; a session's events go in order, across nodes too) with their
/// events and endpoints.
pub(super) async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let kind = JobKind::WebhookDelivery;
    let claims = jobs::claim(&mut tx, kind, None, now, lease_until, limit).await?;
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let mut events = QueryBuilder::<Postgres>::new(format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE seq IN ("
    ));
    let mut list = events.separated(", ");
    for c in &claims {
        list.push_bind(c.subject);
    }
    events.push(")");
    let events: Vec<EventRow> = events
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut ids: Vec<String> = claims.iter().map(|c| c.lane.clone()).collect();
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
    let sql = format!("SELECT {FINISH_COLUMNS} FROM {FINISH_FROM} WHERE j.id = $1 FOR UPDATE OF j");
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
        "INSERT INTO webhook_attempts (job_id, event_id, endpoint_id, tenant_id, attempt, \
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
    if let Some(change) = &plan.delivery {
        jobs::apply(&mut *conn, log.delivery_id, change, now).await?;
    }
    apply_finish_effects(conn, plan, now).await
}

/// What a finish changes beyond its attempt's log row and its job: the endpoint's failure
/// run and the messages whose status follows the delivery.
pub(super) async fn apply_finish_effects(
    conn: &mut PgConnection,
    plan: &FinishPlan,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let log = &plan.log;
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
    for endpoint in &disabled {
        hold_deliveries(&mut tx, endpoint).await?;
    }
    for d in plan {
        enqueue_events(&mut tx, d.tenant, &[d.event], now).await?;
    }
    tx.commit().await.map_err(store_error)?;
    Ok(disabled)
}

/// Keeps the lane of the endpoint's deliveries held or free as its state says
/// ([`Endpoint::holds_deliveries`]), after any write of `enabled`.
pub(crate) async fn hold_deliveries(
    conn: &mut PgConnection,
    endpoint: &Endpoint,
) -> StoreResult<()> {
    let (kind, held) = (JobKind::WebhookDelivery, endpoint.holds_deliveries());
    jobs::hold_lane(conn, kind, &endpoint.id, held).await
}
