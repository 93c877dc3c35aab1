//! Robots and the robot-turn lease on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::params;
use tiller_core::{
    clock::to_millis,
    conversations::{CallId, Session, StoredMessage},
    robots::{NewRobot, Robot},
    store::RobotStore,
    Entity, StoreResult, TenantId,
};

use super::{
    statements::{all, execute, found, one, optional},
    SqliteStore,
};
use crate::rows::{
    robot_key, MessageRow, RobotRow, SessionRow, MESSAGE_COLUMNS, ROBOT_COLUMNS, SESSION_COLUMNS,
};

/// The lease condition shared by both claims: a turn is due and no other lease runs.
/// `turn_due` is set only while core says the robot answers (`SessionFacts::turn_due`), so
/// the claim restates no session state.
const CLAIMABLE: &str = "turn_due IS NOT NULL AND turn_due <= ?1 \
     AND (turn_lease_until IS NULL OR turn_lease_until <= ?1 OR turn_lease = ?2)";

#[async_trait::async_trait]
impl RobotStore for SqliteStore {
    async fn create_robot(
        &self,
        t: TenantId,
        new: &NewRobot,
        now: DateTime<Utc>,
    ) -> StoreResult<Robot> {
        let new = new.clone();
        self.writer
            .run(move |tx| {
                if new.is_default {
                    execute(
                        tx,
                        "UPDATE robots SET is_default = FALSE WHERE tenant_id = ? AND is_default",
                        params![t.0],
                    )?;
                }
                let sql = format!(
                    "INSERT INTO robots (tenant_id, name, kind, definition, flow_id, is_default, \
                     created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {ROBOT_COLUMNS}"
                );
                let row: RobotRow = one(
                    tx,
                    &sql,
                    params![
                        t.0,
                        &new.name,
                        new.kind.as_str(),
                        &new.definition,
                        &new.flow_id,
                        new.is_default,
                        to_millis(now),
                    ],
                )?;
                row.try_into()
            })
            .await
    }

    async fn robot(&self, t: TenantId, robot_id: &str) -> StoreResult<Robot> {
        let sql = format!("SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = ? AND id = ?");
        let key = robot_key(robot_id)?;
        let row: RobotRow = self
            .readers
            .read(|c| found(c, &sql, params![t.0, key], Entity::Robot))?;
        row.try_into()
    }

    async fn robots(&self, t: TenantId) -> StoreResult<Vec<Robot>> {
        let sql = format!("SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = ? ORDER BY id");
        let rows: Vec<RobotRow> = self.readers.read(|c| all(c, &sql, params![t.0]))?;
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
        let (call_id, lease) = (call_id.clone(), lease.to_owned());
        self.writer
            .run(move |tx| {
                let sql = format!(
                    "UPDATE sessions SET turn_lease = ?2, turn_lease_until = ?3 \
                     WHERE tenant_id = ?4 AND call_id = ?5 AND {CLAIMABLE} \
                     RETURNING {SESSION_COLUMNS}"
                );
                let row: Option<SessionRow> = optional(
                    tx,
                    &sql,
                    params![
                        to_millis(now),
                        lease,
                        to_millis(lease_until),
                        t.0,
                        call_id.as_str()
                    ],
                )?;
                row.map(Session::try_from).transpose()
            })
            .await
    }

    async fn claim_due_turns(
        &self,
        lease: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Session>> {
        let lease = lease.to_owned();
        self.writer
            .run(move |tx| {
                let sql = format!(
                    "UPDATE sessions SET turn_lease = ?2, turn_lease_until = ?3 \
                     WHERE (tenant_id, call_id) IN (SELECT tenant_id, call_id FROM sessions \
                       WHERE {CLAIMABLE} ORDER BY turn_due LIMIT ?4) \
                     RETURNING {SESSION_COLUMNS}"
                );
                let rows: Vec<SessionRow> = all(
                    tx,
                    &sql,
                    params![
                        to_millis(now),
                        lease,
                        to_millis(lease_until),
                        i64::from(limit)
                    ],
                )?;
                rows.into_iter().map(Session::try_from).collect()
            })
            .await
    }

    async fn unanswered_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        after_seq: i64,
    ) -> StoreResult<Vec<StoredMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = ? AND call_id = ? \
             AND seq > ? AND sender_type = 'user' ORDER BY seq"
        );
        let rows: Vec<MessageRow> = self
            .readers
            .read(|c| all(c, &sql, params![t.0, call_id.as_str(), after_seq]))?;
        rows.into_iter().map(StoredMessage::try_from).collect()
    }
}
