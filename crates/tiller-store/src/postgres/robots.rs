//! Robots and the robot-turn lease on PostgreSQL, where several nodes claim turns at once:
//! the claim locks the rows it takes (`FOR UPDATE SKIP LOCKED`), so no turn is leased twice.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tiller_core::{
    clock::to_millis,
    conversations::{CallId, Session, StoredMessage},
    robots::{NewRobot, Robot},
    store::RobotStore,
    Entity, StoreResult, TenantId,
};

use super::{claims::ClaimRequest, PgStore};
use crate::{
    error::{not_found, store_error},
    rows::{
        robot_key, MessageRow, RobotRow, SessionRow, MESSAGE_COLUMNS, ROBOT_COLUMNS,
        SESSION_COLUMNS,
    },
};

/// The lease condition shared by both claims: a turn is due and no other lease runs.
/// `turn_due` is set only while core says the robot answers (`SessionFacts::turn_due`), so
/// the claim restates no session state.
const CLAIMABLE: &str = "turn_due IS NOT NULL AND turn_due <= $1 \
     AND (turn_lease_until IS NULL OR turn_lease_until <= $1 OR turn_lease = $2)";

/// Claims one session's due turn in its own statement.
pub(super) async fn claim_turn_alone(
    pool: &PgPool,
    t: TenantId,
    call_id: &CallId,
    lease: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let sql = format!(
        "UPDATE sessions SET turn_lease = $2, turn_lease_until = $3 \
         WHERE tenant_id = $4 AND call_id = $5 AND {CLAIMABLE} RETURNING {SESSION_COLUMNS}"
    );
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(to_millis(now))
        .bind(lease)
        .bind(to_millis(lease_until))
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.map(Session::try_from).transpose()
}

#[async_trait::async_trait]
impl RobotStore for PgStore {
    async fn create_robot(
        &self,
        t: TenantId,
        new: &NewRobot,
        now: DateTime<Utc>,
    ) -> StoreResult<Robot> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if new.is_default {
            sqlx::query("UPDATE robots SET is_default = FALSE WHERE tenant_id = $1 AND is_default")
                .bind(t.0)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        let sql = format!(
            "INSERT INTO robots (tenant_id, name, kind, definition, flow_id, is_default, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ROBOT_COLUMNS}"
        );
        let row: RobotRow = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(&new.name)
            .bind(new.kind.as_str())
            .bind(&new.definition)
            .bind(&new.flow_id)
            .bind(new.is_default)
            .bind(to_millis(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        row.try_into()
    }

    async fn robot(&self, t: TenantId, robot_id: &str) -> StoreResult<Robot> {
        let sql = format!("SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = $1 AND id = $2");
        let row: RobotRow = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(robot_key(robot_id)?)
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Robot))?;
        row.try_into()
    }

    async fn robots(&self, t: TenantId) -> StoreResult<Vec<Robot>> {
        let sql = format!("SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = $1 ORDER BY id");
        let rows: Vec<RobotRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Robot::try_from).collect()
    }

    async fn claim_turn(
        &self,
        t: TenantId,
        call_id: &CallId,
        lease: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        // The turns of a burst of messages are claimed together (`claims.rs`).
        let request = ClaimRequest {
            tenant: t,
            call_id: call_id.clone(),
            lease: lease.to_owned(),
            now,
            lease_until,
        };
        self.claims.submit(request).await
    }

    async fn claim_due_turns(
        &self,
        lease: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "UPDATE sessions SET turn_lease = $2, turn_lease_until = $3 \
             WHERE (tenant_id, call_id) IN (SELECT tenant_id, call_id FROM sessions \
               WHERE {CLAIMABLE} ORDER BY turn_due LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {SESSION_COLUMNS}"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(to_millis(now))
            .bind(lease)
            .bind(to_millis(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn unanswered_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        after_seq: i64,
    ) -> StoreResult<Vec<StoredMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND call_id = $2 \
             AND seq > $3 AND sender_type = 'user' ORDER BY seq"
        );
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(call_id.as_str())
            .bind(after_seq)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(StoredMessage::try_from).collect()
    }
}
