//! Sessions and their messages on SQLite. Every write is a job on the writer thread
//! (`writer.rs`), so a read-then-write inside it cannot interleave with another writer.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value, Connection};
use tiller_core::{
    clock::{from_millis, to_millis},
    conversations::{
        CallId, ChatRecord, ChatRecordQuery, EndReason, Inbound, MessageQuery, NewSession, Session,
        SessionChange, SessionQuery, SessionState, SortOrder, StoredMessage,
    },
    messages::Message,
    store::{ConversationStore, ForwardUserMessages},
    webhooks::NewEvent,
    StoreError, StoreResult, TenantId,
};

use super::{
    chat_records,
    statements::{all, execute, one, optional, placeholders, Query},
    webhooks::enqueue_events,
    SqliteStore,
};
use crate::rows::{
    millis_or, retried_in, robot_key, MessageRow, NewMessageRow, SessionRow, MESSAGE_COLUMNS,
    SESSION_COLUMNS,
};

fn session_row(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<Option<SessionRow>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND call_id = ?");
    optional(conn, &sql, params![t.0, call_id.as_str()])
}

/// The session, which must exist and be closed (or not) as `closed` says; `Rejected(why)`
/// when it is not.
fn session_in_state(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    closed: bool,
    why: &str,
) -> StoreResult<()> {
    let row = session_row(conn, t, call_id)?.ok_or(StoreError::NotFound)?;
    if row.is_closed() != closed {
        return Err(StoreError::Rejected(why.into()));
    }
    Ok(())
}

/// Inserts the message unless its `msg_id` is already stored for the tenant (`None`).
/// The stored message is the one given plus its `seq`: reading the row back would parse its
/// JSON body again on the writer thread, which every write waits for.
fn insert_message(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<Option<StoredMessage>> {
    let new = NewMessageRow::of(message)?;
    let seq: Option<i64> = optional(
        conn,
        "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, status, seat_id, \
         content_type, ts, created_at, updated_at, body) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (tenant_id, msg_id) DO NOTHING RETURNING seq",
        params![
            t.0,
            call_id.as_str(),
            new.msg_id,
            new.sender_type,
            new.status,
            new.seat_id,
            new.content_type,
            new.ts,
            to_millis(now),
            to_millis(now),
            &new.body,
        ],
    )?;
    // Instants are stored in milliseconds: give back what a read would.
    let at = from_millis(to_millis(now));
    Ok(seq.map(|seq| StoredMessage {
        seq,
        call_id: call_id.clone(),
        message: message.clone(),
        created_at: at,
        updated_at: at,
    }))
}

/// Inserts a message that must be new: `Conflict("msg_id")` when the id is taken.
fn insert_new_message(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<StoredMessage> {
    insert_message(conn, t, call_id, message, now)?
        .ok_or_else(|| StoreError::Conflict("msg_id".into()))
}

fn message_by_id(conn: &Connection, t: TenantId, msg_id: &str) -> StoreResult<MessageRow> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = ? AND msg_id = ?");
    one(conn, &sql, params![t.0, msg_id])
}

/// Sets `updated_at` and returns the session as it now is.
fn touch(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = ? WHERE tenant_id = ? AND call_id = ? \
         RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = one(conn, &sql, params![to_millis(now), t.0, call_id.as_str()])?;
    row.try_into()
}

/// The robot a new or reopened session gets: the one named (which must exist), else the
/// tenant's default, else none.
fn session_robot(conn: &Connection, t: TenantId, named: Option<&str>) -> StoreResult<Option<i64>> {
    let found: Option<i64> = match named {
        Some(id) => optional(
            conn,
            "SELECT id FROM robots WHERE tenant_id = ? AND id = ?",
            params![t.0, robot_key(id)?],
        )?,
        None => optional(
            conn,
            "SELECT id FROM robots WHERE tenant_id = ? AND is_default",
            params![t.0],
        )?,
    };
    match (named, found) {
        (Some(_), None) => Err(StoreError::NotFound),
        (_, found) => Ok(found),
    }
}

/// Opens the session if it is absent or closed; true when it did. A reopened session starts
/// a fresh dialogue: earlier messages count as answered.
fn open_or_reopen(
    conn: &Connection,
    t: TenantId,
    new: &NewSession,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let existing = session_row(conn, t, &new.call_id)?;
    if existing.as_ref().is_some_and(|row| !row.is_closed()) {
        return Ok(false);
    }
    let robot = session_robot(conn, t, new.robot_id.as_deref())?;
    let variables = serde_json::to_string(&new.variables).map_err(crate::error::json_error)?;
    match existing {
        Some(_) => execute(
            conn,
            "UPDATE sessions SET state = 'bot', end_reason = NULL, ended_at = NULL, \
             seat_id = NULL, started_at = ?, updated_at = ?, robot_id = ?, robot_state = NULL, \
             answered_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages \
               WHERE tenant_id = sessions.tenant_id AND call_id = sessions.call_id), \
             turn_due = NULL, turn_lease = NULL, turn_lease_until = NULL, variables = ?, \
             state_version = state_version + 1 WHERE tenant_id = ? AND call_id = ?",
            params![
                to_millis(now),
                to_millis(now),
                robot,
                &variables,
                t.0,
                new.call_id.as_str()
            ],
        )?,
        None => execute(
            conn,
            "INSERT INTO sessions (tenant_id, call_id, channel, channel_id, user_id, user_name, \
             state, started_at, updated_at, robot_id, variables) \
             VALUES (?, ?, ?, ?, ?, ?, 'bot', ?, ?, ?, ?)",
            params![
                t.0,
                new.call_id.as_str(),
                &new.channel,
                &new.channel_id,
                &new.user.id,
                &new.user.name,
                to_millis(now),
                to_millis(now),
                robot,
                &variables,
            ],
        )?,
    };
    Ok(true)
}

/// After new user messages (`newest` the last one's `seq`): in state `bot` with a robot the
/// turn becomes due; in `pending_agent` / `agent` they count as answered (they go to the
/// agent side). Sets `updated_at` and returns the session as it now is.
fn note_user_messages(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    newest: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = ?1, \
         turn_due = CASE WHEN ?2 IS NOT NULL AND state = 'bot' AND robot_id IS NOT NULL \
           THEN COALESCE(turn_due, ?1) ELSE turn_due END, \
         answered_seq = CASE WHEN ?2 IS NOT NULL AND state IN ('pending_agent', 'agent') \
           THEN ?2 ELSE answered_seq END \
         WHERE tenant_id = ?3 AND call_id = ?4 RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = one(
        conn,
        &sql,
        params![to_millis(now), newest, t.0, call_id.as_str()],
    )?;
    row.try_into()
}

/// A robot turn is due while the session is in state `bot` with a robot and holds user
/// messages after `answered_seq`; keeps the time it first became due.
fn reschedule_turn(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET turn_due = CASE WHEN state = 'bot' AND robot_id IS NOT NULL \
         AND EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = sessions.tenant_id \
           AND m.call_id = sessions.call_id AND m.seq > sessions.answered_seq \
           AND m.sender_type = 'user') \
         THEN COALESCE(turn_due, ?) END WHERE tenant_id = ? AND call_id = ? \
         RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = one(conn, &sql, params![to_millis(now), t.0, call_id.as_str()])?;
    row.try_into()
}

/// `record_inbound` on the writer thread.
fn record(
    conn: &Connection,
    t: TenantId,
    session: &NewSession,
    messages: &[Message],
    start: &Message,
    forward: &ForwardUserMessages,
    now: DateTime<Utc>,
) -> StoreResult<Inbound> {
    let call_id = &session.call_id;
    let opened = open_or_reopen(conn, t, session, now)?;
    if opened {
        insert_new_message(conn, t, call_id, start, now)?;
    }
    let mut stored = Vec::with_capacity(messages.len());
    let mut new = Vec::new();
    let mut newest = None;
    for m in messages {
        let message = match insert_message(conn, t, call_id, m, now)? {
            Some(inserted) => {
                newest = Some(inserted.seq);
                new.push(m.clone());
                inserted
            }
            None => retried_in(message_by_id(conn, t, &m.msg_id)?, call_id)?.try_into()?,
        };
        stored.push(message);
    }
    let inserted = new.len();
    let session = note_user_messages(conn, t, call_id, newest, now)?;
    if inserted > 0
        && matches!(
            session.state,
            SessionState::PendingAgent | SessionState::Agent
        )
    {
        enqueue_events(conn, t, &forward(&session, &new), now)?;
    }
    Ok(Inbound {
        session,
        opened,
        messages: stored,
        inserted,
    })
}

/// `apply_session_change` on the writer thread.
fn apply_change(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    change: &SessionChange,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let robot_state = change.robot_state.as_ref().map(ToString::to_string);
    let changed = execute(
        conn,
        "UPDATE sessions SET state = ?1, end_reason = ?2, \
         ended_at = CASE WHEN ?1 = 'closed' THEN ?3 ELSE NULL END, seat_id = ?4, \
         robot_state = COALESCE(?5, robot_state), answered_seq = COALESCE(?6, answered_seq), \
         updated_at = ?3, state_version = state_version + 1, \
         turn_lease = CASE WHEN ?7 IS NULL THEN turn_lease END, \
         turn_lease_until = CASE WHEN ?7 IS NULL THEN turn_lease_until END \
         WHERE tenant_id = ?8 AND call_id = ?9 AND state_version = ?10 \
         AND (?7 IS NULL OR turn_lease = ?7)",
        params![
            change.state.as_str(),
            change.end_reason.map(EndReason::as_str),
            to_millis(now),
            change.seat_id.as_deref(),
            robot_state,
            change.answered_seq,
            change.turn_lease.as_deref(),
            t.0,
            call_id.as_str(),
            change.expected_version,
        ],
    )?;
    if changed == 0 {
        session_row(conn, t, call_id)?.ok_or(StoreError::NotFound)?;
        return Ok(None);
    }
    for m in &change.messages {
        insert_new_message(conn, t, call_id, m, now)?;
    }
    enqueue_events(conn, t, &change.events, now)?;
    reschedule_turn(conn, t, call_id, now).map(Some)
}

/// `mark_read` on the writer thread.
fn mark(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    msg_ids: Option<&[String]>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    session_row(conn, t, call_id)?.ok_or(StoreError::NotFound)?;
    if msg_ids.is_some_and(<[String]>::is_empty) {
        return Ok(0);
    }
    let mut sql = "UPDATE messages SET status = 'read', updated_at = ? WHERE tenant_id = ? \
         AND call_id = ? AND sender_type = 'user' AND (status IS NULL OR status <> 'read')"
        .to_owned();
    let mut values = vec![
        Value::from(to_millis(now)),
        Value::from(t.0),
        Value::from(call_id.as_str().to_owned()),
    ];
    if let Some(ids) = msg_ids {
        sql = format!("{sql} AND msg_id IN ({})", placeholders(ids.len()));
        values.extend(ids.iter().cloned().map(Value::from));
    }
    execute(conn, &sql, params_from_iter(values))
}

#[async_trait::async_trait]
impl ConversationStore for SqliteStore {
    async fn record_inbound(
        &self,
        t: TenantId,
        session: &NewSession,
        messages: &[Message],
        start: &Message,
        forward: ForwardUserMessages,
        now: DateTime<Utc>,
    ) -> StoreResult<Inbound> {
        let (session, messages, start) = (session.clone(), messages.to_vec(), start.clone());
        self.writer
            .run(move |tx| record(tx, t, &session, &messages, &start, &forward, now))
            .await
    }

    async fn append_message(
        &self,
        t: TenantId,
        call_id: &CallId,
        message: &Message,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<StoredMessage> {
        let (call_id, message, events) = (call_id.clone(), message.clone(), events.to_vec());
        self.writer
            .run(move |tx| {
                session_in_state(tx, t, &call_id, false, "session is closed")?;
                let stored = insert_new_message(tx, t, &call_id, &message, now)?;
                touch(tx, t, &call_id, now)?;
                enqueue_events(tx, t, &events, now)?;
                Ok(stored)
            })
            .await
    }

    async fn session(&self, t: TenantId, call_id: &CallId) -> StoreResult<Session> {
        self.readers
            .read(|c| session_row(c, t, call_id))?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    async fn list_sessions(&self, t: TenantId, q: &SessionQuery) -> StoreResult<Vec<Session>> {
        // The filters other than the tenant have no index of their own: a rare value can
        // walk many of the tenant's sessions, so this runs off the async workers.
        let q = q.clone();
        let rows: Vec<SessionRow> = self
            .readers
            .scan(move |c| {
                let mut query = Query::new(format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = "
                ));
                query.bind(t.0);
                if let Some(after) = &q.after_call_id {
                    let started_at: i64 = one(
                        c,
                        "SELECT started_at FROM sessions WHERE tenant_id = ? AND call_id = ?",
                        params![t.0, after.as_str()],
                    )?;
                    query
                        .push(" AND (started_at, call_id) < (")
                        .bind(started_at)
                        .push(", ")
                        .bind(after.as_str().to_owned())
                        .push(")");
                }
                for (column, value) in [
                    ("channel", &q.channel),
                    ("channel_id", &q.channel_id),
                    ("user_id", &q.user_id),
                ] {
                    if let Some(v) = value {
                        query.push(&format!(" AND {column} = ")).bind(v.clone());
                    }
                }
                if let Some(state) = q.state {
                    query.push(" AND state = ").bind(state.as_str().to_owned());
                }
                if let Some(from) = q.started_from {
                    query.push(" AND started_at >= ").bind(to_millis(from));
                }
                if let Some(to) = q.started_to {
                    query.push(" AND started_at <= ").bind(to_millis(to));
                }
                query
                    .push(" ORDER BY started_at DESC, call_id DESC LIMIT ")
                    .bind(i64::from(q.size));
                query.all(c)
            })
            .await?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn list_messages(
        &self,
        t: TenantId,
        q: &MessageQuery,
    ) -> StoreResult<Vec<StoredMessage>> {
        let rows: Vec<MessageRow> = self.readers.read(|c| {
            let cursor: Option<i64> = match &q.after_msg_id {
                None => None,
                Some(msg_id) => Some(one(
                    c,
                    "SELECT seq FROM messages WHERE tenant_id = ? AND call_id = ? AND msg_id = ?",
                    params![t.0, q.call_id.as_str(), msg_id],
                )?),
            };
            // Both shapes walk the (tenant_id, call_id, seq) index from the cursor.
            let (order, bound) = match q.order {
                SortOrder::NewestFirst => ("seq < ? ORDER BY seq DESC", cursor.unwrap_or(i64::MAX)),
                SortOrder::OldestFirst => ("seq > ? ORDER BY seq ASC", cursor.unwrap_or(i64::MIN)),
            };
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = ? AND call_id = ? \
                 AND created_at >= ? AND {order} LIMIT ?"
            );
            all(
                c,
                &sql,
                params![
                    t.0,
                    q.call_id.as_str(),
                    millis_or(q.since, i64::MIN),
                    bound,
                    i64::from(q.size)
                ],
            )
        })?;
        rows.into_iter().map(StoredMessage::try_from).collect()
    }

    async fn mark_read(
        &self,
        t: TenantId,
        call_id: &CallId,
        msg_ids: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (call_id, msg_ids) = (call_id.clone(), msg_ids.map(<[String]>::to_vec));
        self.writer
            .run(move |tx| mark(tx, t, &call_id, msg_ids.as_deref(), now))
            .await
    }

    async fn apply_session_change(
        &self,
        t: TenantId,
        call_id: &CallId,
        change: &SessionChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        let (call_id, change) = (call_id.clone(), change.clone());
        self.writer
            .run(move |tx| apply_change(tx, t, &call_id, &change, now))
            .await
    }

    async fn idle_sessions(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE state <> 'closed' AND updated_at < ? \
             ORDER BY updated_at LIMIT ?"
        );
        let rows: Vec<SessionRow> = self
            .readers
            .read(|c| all(c, &sql, params![to_millis(cutoff), i64::from(limit)]))?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn save_report(
        &self,
        t: TenantId,
        call_id: &CallId,
        report: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<Session> {
        let (call_id, report) = (call_id.clone(), report.to_string());
        self.writer
            .run(move |tx| {
                session_in_state(tx, t, &call_id, true, "session is still open")?;
                let sql = format!(
                    "UPDATE sessions SET report = ?, updated_at = ? WHERE tenant_id = ?                      AND call_id = ? RETURNING {SESSION_COLUMNS}"
                );
                let row: SessionRow =
                    one(tx, &sql, params![report, to_millis(now), t.0, call_id.as_str()])?;
                row.try_into()
            })
            .await
    }

    async fn chat_records(
        &self,
        t: TenantId,
        q: &ChatRecordQuery,
    ) -> StoreResult<(u64, Vec<ChatRecord>)> {
        let q = q.clone();
        self.readers
            .scan(move |c| chat_records::query(c, t, &q))
            .await
    }
}
