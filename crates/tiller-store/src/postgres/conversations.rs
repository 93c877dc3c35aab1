//! Sessions and their messages on PostgreSQL, where several nodes write at once: a write
//! locks its session row (`FOR UPDATE`) before it reads the state it depends on, and
//! inserts that may race use `ON CONFLICT DO NOTHING`, then read what won.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    conversations::{
        require_closed, require_open, CallId, ChatRecord, ChatRecordQuery, EndReason, Inbound,
        InboundMode, MessageQuery, NewSession, Session, SessionChange, SessionFacts, SessionQuery,
        SessionState, StatusReport, StatusReportOutcome, StoredMessage,
    },
    messages::Message,
    store::ConversationStore,
    webhooks::NewEvent,
    Entity, StoreError, StoreResult, TenantId, Unique,
};

use super::{
    changes::ChangeRequest, chat_records, inbound::InboundRequest, list_reads::ListRequest,
    messages, webhooks::enqueue_events, PgStore,
};
use crate::{
    error::{not_found, store_error},
    rows::{
        session_state, FactsRow, MessageRow, NewMessageRow, SessionRow, FACTS_COLUMNS,
        MESSAGE_COLUMNS, SESSION_COLUMNS,
    },
};

/// The session; with `lock`, its row is locked until the transaction ends, so concurrent
/// writers to one session take turns.
pub(super) async fn session_row(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    lock: bool,
) -> StoreResult<Option<SessionRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND call_id = $2{lock}"
    );
    sqlx::query_as(&sql)
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(store_error)
}

/// The stored session's state, locked; `NotFound` when there is none.
pub(super) async fn locked_state(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<SessionState> {
    let raw: Option<String> = sqlx::query_scalar(
        "SELECT state FROM sessions WHERE tenant_id = $1 AND call_id = $2 FOR UPDATE",
    )
    .bind(t.0)
    .bind(call_id.as_str())
    .fetch_optional(conn)
    .await
    .map_err(store_error)?;
    session_state(&raw.ok_or(StoreError::NotFound(Entity::Session))?)
}

/// Inserts the message unless its `msg_id` is already stored for the tenant (`None`).
pub(super) async fn insert_message(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<Option<MessageRow>> {
    let new = NewMessageRow::of(message)?;
    let sql = format!(
        "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, status, seat_id, \
         content_type, ts, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
         ON CONFLICT (tenant_id, msg_id) DO NOTHING RETURNING {MESSAGE_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(t.0)
        .bind(call_id.as_str())
        .bind(new.msg_id)
        .bind(new.sender_type)
        .bind(new.status)
        .bind(new.seat_id)
        .bind(new.content_type)
        .bind(new.ts)
        .bind(to_millis(now))
        .bind(&new.body)
        .fetch_optional(conn)
        .await
        .map_err(store_error)
}

/// Inserts a message that must be new: `Conflict(MessageMsgId)` when the id is taken.
pub(super) async fn insert_new_message(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<StoredMessage> {
    insert_message(conn, t, call_id, message, now)
        .await?
        .ok_or(StoreError::Conflict(Unique::MessageMsgId))?
        .try_into()
}

pub(super) async fn message_by_id(
    conn: &mut PgConnection,
    t: TenantId,
    msg_id: &str,
) -> StoreResult<MessageRow> {
    let sql =
        format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND msg_id = $2");
    sqlx::query_as(&sql)
        .bind(t.0)
        .bind(msg_id)
        .fetch_one(conn)
        .await
        .map_err(not_found(Entity::Message))
}

/// Sets `updated_at` and returns the session as it now is.
pub(super) async fn touch(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = $1 WHERE tenant_id = $2 AND call_id = $3 \
         RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = sqlx::query_as(&sql)
        .bind(to_millis(now))
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_one(conn)
        .await
        .map_err(not_found(Entity::Session))?;
    row.try_into()
}

/// Applies one change in its own transaction: the session's update guarded by its version
/// (and lease), the messages, the events, and the next turn.
pub(super) async fn apply_change_alone(
    pool: &PgPool,
    t: TenantId,
    call_id: &CallId,
    change: &SessionChange,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let robot_state = change.robot_state.as_ref().map(ToString::to_string);
    // A change made under a turn lease releases it.
    let (release, leased) = match change.turn_lease {
        Some(_) => (
            ", turn_lease = NULL, turn_lease_until = NULL",
            " AND turn_lease = $7",
        ),
        None => ("", " AND $7::text IS NULL"),
    };
    let sql = format!(
        "UPDATE sessions SET state = $1, end_reason = $2, ended_at = $11, seat_id = $4, \
         robot_state = COALESCE($5, robot_state), answered_seq = COALESCE($6, answered_seq), \
         updated_at = $3, state_version = state_version + 1{release} \
         WHERE tenant_id = $8 AND call_id = $9 AND state_version = $10{leased} \
         RETURNING {FACTS_COLUMNS}"
    );
    let changed: Option<FactsRow> = sqlx::query_as(&sql)
        .bind(change.state.as_str())
        .bind(change.end_reason.map(EndReason::as_str))
        .bind(to_millis(now))
        .bind(change.seat_id.as_deref())
        .bind(robot_state)
        .bind(change.answered_seq)
        .bind(change.turn_lease.as_deref())
        .bind(t.0)
        .bind(call_id.as_str())
        .bind(change.expected_version)
        .bind(change.ended_at(now).map(to_millis))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    let Some(changed) = changed else {
        session_row(&mut tx, t, call_id, false)
            .await?
            .ok_or(StoreError::NotFound(Entity::Session))?;
        return Ok(None);
    };
    let facts = SessionFacts::try_from(changed)?;
    for m in &change.messages {
        insert_new_message(&mut tx, t, call_id, m, now).await?;
    }
    enqueue_events(&mut tx, t, &change.events, now).await?;
    let waiting = messages::user_messages_wait(&mut tx, t, call_id, facts.answered_seq).await?;
    let sql = format!(
        "UPDATE sessions SET turn_due = $1 WHERE tenant_id = $2 AND call_id = $3 \
         RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = sqlx::query_as(&sql)
        .bind(facts.turn_due(waiting, now).map(to_millis))
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(not_found(Entity::Session))?;
    tx.commit().await.map_err(store_error)?;
    Ok(Some(row.try_into()?))
}

#[async_trait::async_trait]
impl ConversationStore for PgStore {
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
        let request = InboundRequest {
            tenant: t,
            session: session.clone(),
            messages: messages.to_vec(),
            start: start.clone(),
            company: company.to_owned(),
            mode,
            now,
        };
        self.inbound.submit(request).await
    }

    async fn append_message(
        &self,
        t: TenantId,
        call_id: &CallId,
        message: &Message,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<StoredMessage> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        require_open(locked_state(&mut tx, t, call_id).await?)?;
        let stored = insert_new_message(&mut tx, t, call_id, message, now).await?;
        touch(&mut tx, t, call_id, now).await?;
        enqueue_events(&mut tx, t, events, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn record_channel_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        messages: &[Message],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredMessage>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let stored = messages::record_sent(&mut tx, t, call_id, messages, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn report_statuses(
        &self,
        t: TenantId,
        call_id: &CallId,
        reports: &[StatusReport],
        company: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<StatusReportOutcome> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let outcome = messages::report(&mut tx, t, call_id, reports, company, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
    }

    async fn session(&self, t: TenantId, call_id: &CallId) -> StoreResult<Session> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        session_row(&mut conn, t, call_id, false)
            .await?
            .ok_or(StoreError::NotFound(Entity::Session))?
            .try_into()
    }

    async fn list_sessions(&self, t: TenantId, q: &SessionQuery) -> StoreResult<Vec<Session>> {
        // `started_at IS NOT NULL` (always true) is the predicate of the list index, which
        // no other query states, so key lookups never take it (migration 0011).
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE started_at IS NOT NULL AND tenant_id = "
        ));
        qb.push_bind(t.0);
        if let Some(after) = &q.after_call_id {
            let started_at: i64 = sqlx::query_scalar(
                "SELECT started_at FROM sessions WHERE tenant_id = $1 AND call_id = $2",
            )
            .bind(t.0)
            .bind(after.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Session))?;
            qb.push(" AND (started_at, call_id) < (")
                .push_bind(started_at)
                .push(", ")
                .push_bind(after.as_str())
                .push(")");
        }
        for (column, value) in [
            ("channel", &q.channel),
            ("channel_id", &q.channel_id),
            ("user_id", &q.user_id),
        ] {
            if let Some(v) = value {
                qb.push(format!(" AND {column} = ")).push_bind(v.as_str());
            }
        }
        if let Some(state) = q.state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(from) = q.started_from {
            qb.push(" AND started_at >= ").push_bind(to_millis(from));
        }
        if let Some(to) = q.started_to {
            qb.push(" AND started_at <= ").push_bind(to_millis(to));
        }
        qb.push(" ORDER BY started_at DESC, call_id DESC LIMIT ")
            .push_bind(i64::from(q.size));
        let rows: Vec<SessionRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn list_messages(
        &self,
        t: TenantId,
        q: &MessageQuery,
    ) -> StoreResult<Vec<StoredMessage>> {
        // Pages asked for at once are read together (`list_reads.rs`).
        let request = ListRequest {
            tenant: t,
            query: q.clone(),
        };
        self.lists.submit(request).await
    }

    async fn mark_read(
        &self,
        t: TenantId,
        call_id: &CallId,
        msg_ids: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let changed = messages::mark(&mut tx, t, call_id, msg_ids, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(changed)
    }

    async fn apply_session_change(
        &self,
        t: TenantId,
        call_id: &CallId,
        change: &SessionChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        // Robot turns come in bursts: theirs share transactions (`changes.rs`).
        if change.turn_lease.is_none() {
            return apply_change_alone(&self.pool, t, call_id, change, now).await;
        }
        let request = ChangeRequest {
            tenant: t,
            call_id: call_id.clone(),
            change: change.clone(),
            now,
        };
        self.changes.submit(request).await
    }

    async fn idle_sessions(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE state <> 'closed' AND updated_at < $1 \
             ORDER BY updated_at LIMIT $2"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(to_millis(cutoff))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn save_report(
        &self,
        t: TenantId,
        call_id: &CallId,
        report: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<Session> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        require_closed(locked_state(&mut tx, t, call_id).await?)?;
        let sql = format!(
            "UPDATE sessions SET report = $1, updated_at = $2 WHERE tenant_id = $3 AND call_id = $4 \
             RETURNING {SESSION_COLUMNS}"
        );
        let row: SessionRow = sqlx::query_as(&sql)
            .bind(report.to_string())
            .bind(to_millis(now))
            .bind(t.0)
            .bind(call_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(not_found(Entity::Session))?;
        tx.commit().await.map_err(store_error)?;
        row.try_into()
    }

    async fn chat_records(
        &self,
        t: TenantId,
        q: &ChatRecordQuery,
    ) -> StoreResult<(u64, Vec<ChatRecord>)> {
        chat_records::query(&self.pool, t, q).await
    }
}
