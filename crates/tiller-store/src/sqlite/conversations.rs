//! Sessions and their messages on SQLite. Every write is a job on the writer thread
//! (`writer.rs`), so a read-then-write inside it cannot interleave with another writer.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Params};
use tiller_core::{
    clock::{from_millis, to_millis},
    conversations::{
        plan_user_messages, require_closed, require_open, CallId, ChatRecord, ChatRecordQuery,
        EndReason, Inbound, InboundMode, MessageQuery, NewSession, Opening, Session, SessionChange,
        SessionFacts, SessionQuery, SessionState, SortOrder, StatusReport, StatusReportOutcome,
        StoredMessage, UserMessagesPlan,
    },
    messages::Message,
    store::ConversationStore,
    webhooks::NewEvent,
    Entity, StoreError, StoreResult, TenantId, Unique,
};

use super::{
    chat_records, messages,
    statements::{all, execute, found, one, optional, Query},
    webhooks::enqueue_events,
    SqliteStore,
};
use crate::rows::{
    millis_or, retried_in, robot_key, session_state, ChangedRow, FactsRow, MessageRow,
    NewMessageRow, SessionRow, CHANGED_COLUMNS, FACTS_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
};

pub(super) fn session_row(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<Option<SessionRow>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND call_id = ?");
    optional(conn, &sql, params![t.0, call_id.as_str()])
}

/// The stored session's facts, if it exists: what core decides an inbound call on.
fn session_facts(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<Option<SessionFacts>> {
    let sql = format!("SELECT {FACTS_COLUMNS} FROM sessions WHERE tenant_id = ? AND call_id = ?");
    let row: Option<FactsRow> = optional(conn, &sql, params![t.0, call_id.as_str()])?;
    row.map(SessionFacts::try_from).transpose()
}

/// The stored session's state; `NotFound` when there is none.
pub(super) fn state_of(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<SessionState> {
    let raw: Option<String> = optional(
        conn,
        "SELECT state FROM sessions WHERE tenant_id = ? AND call_id = ?",
        params![t.0, call_id.as_str()],
    )?;
    session_state(&raw.ok_or(StoreError::NotFound(Entity::Session))?)
}

/// Inserts the message unless its `msg_id` is already stored for the tenant (`None`).
/// The stored message is the one given plus its `seq`: reading the row back would parse its
/// JSON body again on the writer thread, which every write waits for.
pub(super) fn insert_message(
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

/// Inserts a message that must be new: `Conflict(MessageMsgId)` when the id is taken.
fn insert_new_message(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<StoredMessage> {
    insert_message(conn, t, call_id, message, now)?
        .ok_or(StoreError::Conflict(Unique::MessageMsgId))
}

pub(super) fn message_by_id(
    conn: &Connection,
    t: TenantId,
    msg_id: &str,
) -> StoreResult<MessageRow> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = ? AND msg_id = ?");
    found(conn, &sql, params![t.0, msg_id], Entity::Message)
}

/// Sets `updated_at` and returns the session as it now is.
pub(super) fn touch(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = ? WHERE tenant_id = ? AND call_id = ? \
         RETURNING {SESSION_COLUMNS}"
    );
    returned_session(conn, &sql, params![to_millis(now), t.0, call_id.as_str()])
}

/// The session row an `UPDATE … RETURNING {SESSION_COLUMNS}` changed.
fn returned_session(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Session> {
    found::<SessionRow>(conn, sql, params, Entity::Session)?.try_into()
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
        (Some(_), None) => Err(StoreError::NotFound(Entity::Robot)),
        (_, found) => Ok(found),
    }
}

/// Opens or reopens the session as core's [`Opening`] decides; returns the decision and
/// the session's facts for the messages that follow.
fn open_session(
    conn: &Connection,
    t: TenantId,
    new: &NewSession,
    now: DateTime<Utc>,
) -> StoreResult<(Opening, SessionFacts)> {
    let existing = session_facts(conn, t, &new.call_id)?;
    let opening = Opening::of(existing.map(|f| f.state));
    if let (Opening::Continue, Some(facts)) = (opening, existing) {
        return Ok((opening, facts));
    }
    let robot = session_robot(conn, t, new.robot_id.as_deref())?;
    let variables = serde_json::to_string(&new.variables).map_err(crate::error::json_error)?;
    let (call_id, at) = (new.call_id.as_str(), to_millis(now));
    let facts = if opening == Opening::Reopen {
        let newest: i64 = one(
            conn,
            "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE tenant_id = ? AND call_id = ?",
            params![t.0, call_id],
        )?;
        let facts = SessionFacts::opened(robot.is_some(), newest);
        execute(
            conn,
            "UPDATE sessions SET state = ?, end_reason = NULL, ended_at = NULL, \
             seat_id = NULL, started_at = ?, updated_at = ?, robot_id = ?, robot_state = NULL, \
             answered_seq = ?, turn_due = NULL, turn_lease = NULL, turn_lease_until = NULL, \
             variables = ?, state_version = state_version + 1 \
             WHERE tenant_id = ? AND call_id = ?",
            params![
                facts.state.as_str(),
                at,
                at,
                robot,
                facts.answered_seq,
                &variables,
                t.0,
                call_id
            ],
        )?;
        facts
    } else {
        let facts = SessionFacts::opened(robot.is_some(), 0);
        execute(
            conn,
            "INSERT INTO sessions (tenant_id, call_id, channel, channel_id, user_id, user_name, \
             state, started_at, updated_at, robot_id, variables, answered_seq) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                t.0,
                call_id,
                &new.channel,
                &new.channel_id,
                &new.user.id,
                &new.user.name,
                facts.state.as_str(),
                at,
                at,
                robot,
                &variables,
                facts.answered_seq,
            ],
        )?;
        facts
    };
    Ok((opening, facts))
}

/// Applies core's plan for new user messages; returns the session as it now is.
fn apply_user_messages_plan(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    plan: &UserMessagesPlan,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = ?, turn_due = ?, answered_seq = ? \
         WHERE tenant_id = ? AND call_id = ? RETURNING {SESSION_COLUMNS}"
    );
    returned_session(
        conn,
        &sql,
        params![
            to_millis(now),
            plan.turn_due.map(to_millis),
            plan.answered_seq,
            t.0,
            call_id.as_str()
        ],
    )
}

/// `record_inbound` on the writer thread: core decides the opening and where the new
/// messages go; this writes what it decided.
#[expect(
    clippy::too_many_arguments,
    reason = "the port's inputs (see `ConversationStore::record_inbound`) plus the connection"
)]
fn record(
    conn: &Connection,
    t: TenantId,
    session: &NewSession,
    messages: &[Message],
    start: &Message,
    company: &str,
    mode: InboundMode,
    now: DateTime<Utc>,
) -> StoreResult<Inbound> {
    let call_id = &session.call_id;
    let (opening, facts) = open_session(conn, t, session, now)?;
    if opening.opens() {
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
    let plan = plan_user_messages(&facts, newest, mode, now);
    let session = apply_user_messages_plan(conn, t, call_id, &plan, now)?;
    enqueue_events(conn, t, &plan.events(company, &session, &new), now)?;
    Ok(Inbound {
        session,
        opened: opening.opens(),
        messages: stored,
        inserted: new.len(),
    })
}

/// `apply_session_change` on the writer thread. A change made under a turn lease releases
/// it; core then says whether a turn is due again (user messages may have arrived during
/// the turn).
fn apply_change(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    change: &SessionChange,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let robot_state = change.robot_state.as_ref().map(ToString::to_string);
    let (release, leased) = match change.turn_lease {
        Some(_) => (
            ", turn_lease = NULL, turn_lease_until = NULL",
            " AND turn_lease = ?7",
        ),
        None => ("", " AND ?7 IS NULL"),
    };
    let sql = format!(
        "UPDATE sessions SET state = ?1, end_reason = ?2, ended_at = ?11, seat_id = ?4, \
         robot_state = COALESCE(?5, robot_state), answered_seq = COALESCE(?6, answered_seq), \
         updated_at = ?3, state_version = state_version + 1{release} \
         WHERE tenant_id = ?8 AND call_id = ?9 AND state_version = ?10{leased} \
         RETURNING {CHANGED_COLUMNS}"
    );
    let changed: Option<ChangedRow> = optional(
        conn,
        &sql,
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
            change.ended_at(now).map(to_millis),
        ],
    )?;
    let Some(changed) = changed else {
        state_of(conn, t, call_id)?;
        return Ok(None);
    };
    let facts = SessionFacts::try_from(changed.facts)?;
    for m in &change.messages {
        insert_new_message(conn, t, call_id, m, now)?;
    }
    enqueue_events(conn, t, &change.events, now)?;
    let sql = format!(
        "UPDATE sessions SET turn_due = ? WHERE tenant_id = ? AND call_id = ? \
         RETURNING {SESSION_COLUMNS}"
    );
    let due = facts
        .turn_due(changed.user_messages_wait, now)
        .map(to_millis);
    returned_session(conn, &sql, params![due, t.0, call_id.as_str()]).map(Some)
}

#[async_trait::async_trait]
impl ConversationStore for SqliteStore {
    async fn record_inbound(
        &self,
        t: TenantId,
        session: &NewSession,
        messages: &[Message],
        start: &Message,
        company: &str,
        mode: InboundMode,
        now: DateTime<Utc>,
    ) -> StoreResult<Inbound> {
        let (session, messages, start) = (session.clone(), messages.to_vec(), start.clone());
        let company = company.to_owned();
        self.writer
            .run(move |tx| record(tx, t, &session, &messages, &start, &company, mode, now))
            .await
    }

    async fn record_channel_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        messages: &[Message],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredMessage>> {
        let (call_id, messages) = (call_id.clone(), messages.to_vec());
        self.writer
            .run(move |tx| messages::record_sent(tx, t, &call_id, &messages, now))
            .await
    }

    async fn report_statuses(
        &self,
        t: TenantId,
        call_id: &CallId,
        reports: &[StatusReport],
        company: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<StatusReportOutcome> {
        let (call_id, reports, company) = (call_id.clone(), reports.to_vec(), company.to_owned());
        self.writer
            .run(move |tx| messages::report(tx, t, &call_id, &reports, &company, now))
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
                require_open(state_of(tx, t, &call_id)?)?;
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
            .ok_or(StoreError::NotFound(Entity::Session))?
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
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE started_at IS NOT NULL AND tenant_id = "
                ));
                query.bind(t.0);
                if let Some(after) = &q.after_call_id {
                    let started_at: i64 = found(
                        c,
                        "SELECT started_at FROM sessions WHERE tenant_id = ? AND call_id = ?",
                        params![t.0, after.as_str()],
                        Entity::Session,
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
                Some(msg_id) => Some(found(
                    c,
                    "SELECT seq FROM messages WHERE tenant_id = ? AND call_id = ? AND msg_id = ?",
                    params![t.0, q.call_id.as_str(), msg_id],
                    Entity::Message,
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
            .run(move |tx| messages::mark(tx, t, &call_id, msg_ids.as_deref(), now))
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
                require_closed(state_of(tx, t, &call_id)?)?;
                let sql = format!(
                    "UPDATE sessions SET report = ?, updated_at = ? WHERE tenant_id = ?                      AND call_id = ? RETURNING {SESSION_COLUMNS}"
                );
                returned_session(tx, &sql, params![report, to_millis(now), t.0, call_id.as_str()])
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
