//! Webhook endpoints, the outbox and the attempt log on PostgreSQL, where several nodes
//! claim and finish deliveries at once: claims skip rows another node has locked, and a
//! finish locks its delivery before it reads the state it depends on.
//!
//! `Endpoint::secrets` holds the secrets active at some instant. Methods given a `now` use
//! it. `endpoint` and `endpoints` have none, and the store never reads the database's
//! clock (tests move time by hand), so they use the newest secret's creation instead: the
//! secrets active right after the last rotation. An older secret past its grace period
//! therefore still shows there until the next rotation prunes it; signing is unaffected,
//! since workers sign with the secrets of their claim, which are those active at `now`.

mod finishing;
mod history;
mod outbox;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
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

use super::PgStore;
use crate::{
    error::{not_found, store_error},
    rows::{
        event_types_column, with_secrets, EndpointRow, SecretLifeRow, SecretRow, ENDPOINT_COLUMNS,
    },
};

pub(crate) use finishing::FinishGroups;
pub(crate) use outbox::{enqueue_batches, enqueue_events, set_message_status, EventBatch};

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
async fn load_endpoints(
    conn: &mut PgConnection,
    which: Which<'_>,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Vec<Endpoint>> {
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"));
    match which {
        Which::Tenant(t) => {
            qb.push(" WHERE tenant_id = ").push_bind(t.0);
        }
        Which::One(t, id) => {
            qb.push(" WHERE tenant_id = ")
                .push_bind(t.0)
                .push(" AND id = ")
                .push_bind(id);
        }
        Which::Ids([]) => return Ok(Vec::new()),
        Which::Ids(ids) => {
            qb.push(" WHERE id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(id.as_str());
            }
            qb.push(")");
        }
    }
    qb.push(" ORDER BY seq");
    let rows: Vec<EndpointRow> = qb
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT s.endpoint_id, s.secret FROM webhook_secrets s WHERE s.endpoint_id IN (",
    );
    let mut list = qb.separated(", ");
    for r in &rows {
        list.push_bind(r.id.as_str());
    }
    qb.push(") AND (s.expires_at IS NULL OR s.expires_at > ");
    match at {
        Some(at) => qb.push_bind(to_millis(at)),
        None => qb.push(
            "(SELECT MAX(n.created_at) FROM webhook_secrets n WHERE n.endpoint_id = s.endpoint_id)",
        ),
    };
    qb.push(") ORDER BY s.endpoint_id, s.seq DESC");
    let secrets: Vec<SecretRow> = qb
        .build_query_as()
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    with_secrets(rows, secrets)
}

async fn load_endpoint(
    conn: &mut PgConnection,
    t: TenantId,
    id: &str,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Endpoint> {
    load_endpoints(conn, Which::One(t, id), at)
        .await?
        .pop()
        .ok_or(StoreError::NotFound(Entity::Endpoint))
}

async fn insert_secret(
    conn: &mut PgConnection,
    endpoint_id: &str,
    secret: &Secret,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)",
    )
    .bind(endpoint_id)
    .bind(secret.expose())
    .bind(to_millis(now))
    .execute(conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait::async_trait]
impl WebhookStore for PgStore {
    async fn create_endpoint(
        &self,
        t: TenantId,
        new: &NewEndpoint,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let id = random_hex32();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, \
             encryption_key, created_at, updated_at) VALUES ($1, $2, $3, $4, TRUE, $5, $6, $6)",
        )
        .bind(&id)
        .bind(t.0)
        .bind(&new.url)
        .bind(event_types_column(new.event_types.as_deref())?)
        .bind(new.encryption_key.as_ref().map(Secret::expose))
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        insert_secret(&mut tx, &id, &new.secret, now).await?;
        let endpoint = load_endpoint(&mut tx, t, &id, Some(now)).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(endpoint)
    }

    async fn endpoint(&self, t: TenantId, id: &str) -> StoreResult<Endpoint> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_endpoint(&mut conn, t, id, None).await
    }

    async fn endpoints(&self, t: TenantId) -> StoreResult<Vec<Endpoint>> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        load_endpoints(&mut conn, Which::Tenant(t), None).await
    }

    /// Locks and reads the endpoint, asks core for its new columns
    /// ([`plan_endpoint_update`]) and writes them, in one transaction.
    async fn update_endpoint(
        &self,
        t: TenantId,
        id: &str,
        patch: &EndpointPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The lock leaves key-share locks alone, so enqueues to the endpoint do not wait.
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 \
             FOR NO KEY UPDATE"
        );
        let row: EndpointRow = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_found(Entity::Endpoint))?;
        let plan = plan_endpoint_update(&row.into_endpoint(Vec::new())?, patch, now);
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, event_types = $2, enabled = $3, \
             failing_since = $4, disabled_reason = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&plan.url)
        .bind(event_types_column(plan.event_types.as_deref())?)
        .bind(plan.enabled)
        .bind(plan.failing_since.map(to_millis))
        .bind(plan.disabled_reason.as_deref())
        .bind(to_millis(plan.updated_at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let endpoint = load_endpoint(&mut tx, t, id, Some(now)).await?;
        outbox::hold_deliveries(&mut tx, &endpoint).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(endpoint)
    }

    /// Locks the endpoint, reads its secrets, asks core which expire or go
    /// ([`plan_rotation`]), applies that and adds the new secret, in one transaction.
    async fn rotate_secret(
        &self,
        t: TenantId,
        id: &str,
        secret: &Secret,
        old_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Locks the endpoint, so concurrent rotations take turns.
        sqlx::query_scalar::<_, i64>(
            "UPDATE webhook_endpoints SET updated_at = $1 WHERE tenant_id = $2 AND id = $3 \
             RETURNING seq",
        )
        .bind(to_millis(now))
        .bind(t.0)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(not_found(Entity::Endpoint))?;
        let secrets: Vec<SecretLifeRow> = sqlx::query_as(
            "SELECT seq, expires_at FROM webhook_secrets WHERE endpoint_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        let secrets: Vec<SecretLife> = secrets.into_iter().map(Into::into).collect();
        let plan = plan_rotation(&secrets, old_until, now);
        if !plan.expire.is_empty() {
            let mut qb = QueryBuilder::<Postgres>::new("UPDATE webhook_secrets SET expires_at = ");
            qb.push_bind(to_millis(plan.expires_at))
                .push(" WHERE seq IN (");
            let mut list = qb.separated(", ");
            for seq in &plan.expire {
                list.push_bind(*seq);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await.map_err(store_error)?;
        }
        if !plan.delete.is_empty() {
            let mut qb =
                QueryBuilder::<Postgres>::new("DELETE FROM webhook_secrets WHERE seq IN (");
            let mut list = qb.separated(", ");
            for seq in &plan.delete {
                list.push_bind(*seq);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await.map_err(store_error)?;
        }
        insert_secret(&mut tx, id, secret, now).await?;
        let endpoint = load_endpoint(&mut tx, t, id, Some(now)).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(endpoint)
    }

    async fn enqueue(
        &self,
        t: TenantId,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<EventRecord>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let records = enqueue_events(&mut tx, t, events, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(records)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        outbox::claim(&self.pool, now, lease_until, limit).await
    }

    async fn finish_attempt(
        &self,
        attempt: &AttemptRecord,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.finishes.finish(attempt, outcome, now).await
    }

    async fn disable_failing_endpoints(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Endpoint>> {
        outbox::disable_failing(&self.pool, cutoff, now).await
    }

    async fn list_events(&self, t: TenantId, q: &EventQuery) -> StoreResult<Vec<EventSummary>> {
        history::list_events(&self.pool, t, q).await
    }

    async fn attempts(&self, t: TenantId, event_id: &str) -> StoreResult<Vec<AttemptRecord>> {
        history::attempts(&self.pool, t, event_id).await
    }

    async fn replay_event(
        &self,
        t: TenantId,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        history::replay_event(&self.pool, t, event_id, now).await
    }

    async fn replay_dead(
        &self,
        t: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        history::replay_dead(&self.pool, t, from, to, now).await
    }

    async fn endpoint_health(&self, t: TenantId) -> StoreResult<Vec<EndpointHealth>> {
        history::endpoint_health(&self.pool, t).await
    }

    async fn outbox_stats(&self, now: DateTime<Utc>) -> StoreResult<OutboxStats> {
        history::outbox_stats(&self.pool, now).await
    }
}
