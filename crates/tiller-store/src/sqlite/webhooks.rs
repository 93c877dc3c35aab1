//! Webhook endpoints, the outbox and the attempt log on SQLite. Every write is a job on the
//! writer thread, so a claim never interleaves with another claim or a finish.
//!
//! `Endpoint::secrets` holds the secrets active at some instant. Methods given a `now` use
//! it. `endpoint` and `endpoints` have none, and the store never reads the database's
//! clock (tests move time by hand), so they use the newest secret's creation instead: the
//! secrets active right after the last rotation. An older secret past its grace period
//! therefore still shows there until the next rotation prunes it; signing is unaffected,
//! since workers sign with the secrets of their claim, which are those active at `now`.

mod history;
mod outbox;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use tiller_core::{
    clock::to_millis,
    ids::random_hex32,
    store::WebhookStore,
    webhooks::{
        plan_endpoint_update, plan_rotation, AttemptRecord, ClaimedDelivery, Endpoint,
        EndpointHealth, EndpointPatch, EventQuery, EventRecord, EventSummary, NewEndpoint,
        NewEvent, OutboxStats, Outcome, SecretLife,
    },
    Entity, Secret, StoreError, StoreResult, TenantId,
};

use super::{
    statements::{all, execute, found, Query},
    SqliteStore,
};
use crate::rows::{
    event_types_column, with_secrets, EndpointRow, SecretLifeRow, SecretRow, ENDPOINT_COLUMNS,
};

pub(crate) use outbox::{enqueue_events, set_message_status};

/// Which endpoints to load.
#[derive(Debug, Clone, Copy)]
enum Which<'a> {
    Tenant(TenantId),
    One(TenantId, &'a str),
    /// Of any tenant: the endpoints of claimed deliveries.
    Ids(&'a [String]),
}

/// Endpoints, oldest first, with their secrets active at `at` (or after the last
/// rotation, when `None`; see the module doc).
fn load_endpoints(
    conn: &Connection,
    which: Which<'_>,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Vec<Endpoint>> {
    let mut query = Query::new(format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"));
    match which {
        Which::Tenant(t) => {
            query.push(" WHERE tenant_id = ").bind(t.0);
        }
        Which::One(t, id) => {
            query
                .push(" WHERE tenant_id = ")
                .bind(t.0)
                .push(" AND id = ")
                .bind(id.to_owned());
        }
        Which::Ids([]) => return Ok(Vec::new()),
        Which::Ids(ids) => {
            query
                .push(" WHERE id IN (")
                .bind_list(ids.iter().cloned())
                .push(")");
        }
    }
    query.push(" ORDER BY seq");
    let rows: Vec<EndpointRow> = query.all(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::new(
        "SELECT s.endpoint_id, s.secret FROM webhook_secrets s WHERE s.endpoint_id IN (",
    );
    query
        .bind_list(rows.iter().map(|r| r.id.clone()))
        .push(") AND (s.expires_at IS NULL OR s.expires_at > ");
    match at {
        Some(at) => query.bind(to_millis(at)),
        None => query.push(
            "(SELECT MAX(n.created_at) FROM webhook_secrets n WHERE n.endpoint_id = s.endpoint_id)",
        ),
    };
    query.push(") ORDER BY s.endpoint_id, s.seq DESC");
    let secrets: Vec<SecretRow> = query.all(conn)?;
    with_secrets(rows, secrets)
}

fn endpoint_at(
    conn: &Connection,
    t: TenantId,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    load_endpoints(conn, Which::One(t, id), Some(at))?
        .pop()
        .ok_or(StoreError::NotFound(Entity::Endpoint))
}

fn insert_secret(
    conn: &Connection,
    endpoint_id: &str,
    secret: &Secret,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO webhook_secrets (endpoint_id, secret, created_at) VALUES (?, ?, ?)",
        params![endpoint_id, secret.expose(), to_millis(now)],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl WebhookStore for SqliteStore {
    async fn create_endpoint(
        &self,
        t: TenantId,
        new: &NewEndpoint,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let id = random_hex32();
        let new = new.clone();
        self.writer
            .run(move |tx| {
                execute(
                    tx,
                    "INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, \
                     encryption_key, created_at, updated_at) VALUES (?, ?, ?, ?, TRUE, ?, ?, ?)",
                    params![
                        &id,
                        t.0,
                        &new.url,
                        event_types_column(new.event_types.as_deref())?,
                        new.encryption_key.as_ref().map(Secret::expose),
                        to_millis(now),
                        to_millis(now),
                    ],
                )?;
                insert_secret(tx, &id, &new.secret, now)?;
                endpoint_at(tx, t, &id, now)
            })
            .await
    }

    async fn endpoint(&self, t: TenantId, id: &str) -> StoreResult<Endpoint> {
        self.readers
            .read(|c| load_endpoints(c, Which::One(t, id), None))?
            .pop()
            .ok_or(StoreError::NotFound(Entity::Endpoint))
    }

    async fn endpoints(&self, t: TenantId) -> StoreResult<Vec<Endpoint>> {
        self.readers
            .read(|c| load_endpoints(c, Which::Tenant(t), None))
    }

    /// Reads the endpoint, asks core for its new columns ([`plan_endpoint_update`]) and
    /// writes them, in one writer job.
    async fn update_endpoint(
        &self,
        t: TenantId,
        id: &str,
        patch: &EndpointPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let (id, patch) = (id.to_owned(), patch.clone());
        self.writer
            .run(move |tx| {
                let sql = format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
                     WHERE tenant_id = ? AND id = ?"
                );
                let row: EndpointRow = found(tx, &sql, params![t.0, &id], Entity::Endpoint)?;
                let plan = plan_endpoint_update(&row.into_endpoint(Vec::new())?, &patch, now);
                execute(
                    tx,
                    "UPDATE webhook_endpoints SET url = ?, event_types = ?, enabled = ?, \
                     failing_since = ?, disabled_reason = ?, updated_at = ? WHERE id = ?",
                    params![
                        &plan.url,
                        event_types_column(plan.event_types.as_deref())?,
                        plan.enabled,
                        plan.failing_since.map(to_millis),
                        plan.disabled_reason.as_deref(),
                        to_millis(plan.updated_at),
                        &id,
                    ],
                )?;
                let endpoint = endpoint_at(tx, t, &id, now)?;
                outbox::hold_deliveries(tx, &endpoint)?;
                Ok(endpoint)
            })
            .await
    }

    /// Reads the endpoint's secrets, asks core which expire or go ([`plan_rotation`]),
    /// applies that and adds the new secret, in one writer job.
    async fn rotate_secret(
        &self,
        t: TenantId,
        id: &str,
        secret: &Secret,
        old_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let (id, secret) = (id.to_owned(), secret.clone());
        self.writer
            .run(move |tx| {
                let _: i64 = found(
                    tx,
                    "UPDATE webhook_endpoints SET updated_at = ? WHERE tenant_id = ? AND id = ? \
                     RETURNING seq",
                    params![to_millis(now), t.0, &id],
                    Entity::Endpoint,
                )?;
                let secrets: Vec<SecretLifeRow> = all(
                    tx,
                    "SELECT seq, expires_at FROM webhook_secrets WHERE endpoint_id = ? \
                     ORDER BY seq",
                    params![&id],
                )?;
                let secrets: Vec<SecretLife> = secrets.into_iter().map(Into::into).collect();
                let plan = plan_rotation(&secrets, old_until, now);
                if !plan.expire.is_empty() {
                    let mut update = Query::new("UPDATE webhook_secrets SET expires_at = ");
                    update
                        .bind(to_millis(plan.expires_at))
                        .push(" WHERE seq IN (");
                    update.bind_list(plan.expire.iter().copied()).push(")");
                    update.execute(tx)?;
                }
                if !plan.delete.is_empty() {
                    let mut delete = Query::new("DELETE FROM webhook_secrets WHERE seq IN (");
                    delete.bind_list(plan.delete.iter().copied()).push(")");
                    delete.execute(tx)?;
                }
                insert_secret(tx, &id, &secret, now)?;
                endpoint_at(tx, t, &id, now)
            })
            .await
    }

    async fn enqueue(
        &self,
        t: TenantId,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<EventRecord>> {
        let events = events.to_vec();
        self.writer
            .run(move |tx| enqueue_events(tx, t, &events, now))
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.writer
            .run(move |tx| outbox::claim(tx, now, lease_until, limit))
            .await
    }

    async fn finish_attempt(
        &self,
        attempt: &AttemptRecord,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (attempt, outcome) = (attempt.clone(), outcome.clone());
        self.writer
            .run(move |tx| outbox::finish(tx, &attempt, &outcome, now))
            .await
    }

    async fn disable_failing_endpoints(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Endpoint>> {
        self.writer
            .run(move |tx| outbox::disable_failing(tx, cutoff, now))
            .await
    }

    async fn list_events(&self, t: TenantId, q: &EventQuery) -> StoreResult<Vec<EventSummary>> {
        let q = q.clone();
        self.readers
            .scan(move |c| history::list_events(c, t, &q))
            .await
    }

    async fn attempts(&self, t: TenantId, event_id: &str) -> StoreResult<Vec<AttemptRecord>> {
        let event_id = event_id.to_owned();
        self.readers
            .scan(move |c| history::attempts(c, t, &event_id))
            .await
    }

    async fn replay_event(
        &self,
        t: TenantId,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let event_id = event_id.to_owned();
        self.writer
            .run(move |tx| history::replay_event(tx, t, &event_id, now))
            .await
    }

    async fn replay_dead(
        &self,
        t: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.writer
            .run(move |tx| history::replay_dead(tx, t, from, to, now))
            .await
    }

    async fn endpoint_health(&self, t: TenantId) -> StoreResult<Vec<EndpointHealth>> {
        self.readers
            .scan(move |c| history::endpoint_health(c, t))
            .await
    }

    async fn outbox_stats(&self, now: DateTime<Utc>) -> StoreResult<OutboxStats> {
        self.readers
            .scan(move |c| history::outbox_stats(c, now))
            .await
    }
}
