//! Sessions and their messages on SQLite. Every write runs on the one writer connection,
//! so a read-then-write inside a transaction cannot interleave with another writer.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use tiller_core::{
    clock::to_millis,
    conversations::{
        CallId, ChatRecord, ChatRecordQuery, EndReason, Inbound, MessageQuery, NewSession, Session,
        SessionQuery, SessionState, SortOrder, StoredMessage,
    },
    messages::Message,
    store::ConversationStore,
    webhooks::NewEvent,
    StoreError, StoreResult, TenantId,
};

use super::{webhooks::enqueue_events, SqliteStore};
use crate::{
    error::store_error,
    rows::{
        millis_or, ChatRecordRow, MessageRow, NewMessageRow, SessionRow, MESSAGE_COLUMNS,
        SESSION_COLUMNS,
    },
};

async fn session_row(
    conn: &mut SqliteConnection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<Option<SessionRow>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND call_id = ?");
    sqlx::query_as(&sql)
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(store_error)
}

/// The session, which must exist and be closed (or not) as `closed` says; `Rejected(why)`
/// when it is not.
async fn session_in_state(
    conn: &mut SqliteConnection,
    t: TenantId,
    call_id: &CallId,
    closed: bool,
    why: &str,
) -> StoreResult<()> {
    let row = session_row(conn, t, call_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if row.is_closed() != closed {
        return Err(StoreError::Rejected(why.into()));
    }
    Ok(())
}

/// Inserts the message unless its `msg_id` is already stored for the tenant (`None`).
async fn insert_message(
    conn: &mut SqliteConnection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<Option<MessageRow>> {
    let new = NewMessageRow::of(message)?;
    let sql = format!(
        "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, status, seat_id, \
         content_type, ts, created_at, updated_at, body) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
        .bind(to_millis(now))
        .bind(&new.body)
        .fetch_optional(conn)
        .await
        .map_err(store_error)
}

/// Inserts a message that must be new: `Conflict("msg_id")` when the id is taken.
async fn insert_new_message(
    conn: &mut SqliteConnection,
    t: TenantId,
    call_id: &CallId,
    message: &Message,
    now: DateTime<Utc>,
) -> StoreResult<StoredMessage> {
    insert_message(conn, t, call_id, message, now)
        .await?
        .ok_or_else(|| StoreError::Conflict("msg_id".into()))?
        .try_into()
}

async fn message_by_id(
    conn: &mut SqliteConnection,
    t: TenantId,
    msg_id: &str,
) -> StoreResult<MessageRow> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = ? AND msg_id = ?");
    sqlx::query_as(&sql)
        .bind(t.0)
        .bind(msg_id)
        .fetch_one(conn)
        .await
        .map_err(store_error)
}

/// Sets `updated_at` and returns the session as it now is.
async fn touch(
    conn: &mut SqliteConnection,
    t: TenantId,
    call_id: &CallId,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = ? WHERE tenant_id = ? AND call_id = ? \
         RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = sqlx::query_as(&sql)
        .bind(to_millis(now))
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_one(conn)
        .await
        .map_err(store_error)?;
    row.try_into()
}

/// Opens the session if it is absent or closed; true when it did.
async fn open_or_reopen(
    conn: &mut SqliteConnection,
    t: TenantId,
    new: &NewSession,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let query = match session_row(&mut *conn, t, &new.call_id).await? {
        Some(row) if !row.is_closed() => return Ok(false),
        Some(_) => sqlx::query(
            "UPDATE sessions SET state = 'bot', end_reason = NULL, ended_at = NULL, \
             seat_id = NULL, started_at = ?, updated_at = ? WHERE tenant_id = ? AND call_id = ?",
        )
        .bind(to_millis(now))
        .bind(to_millis(now))
        .bind(t.0)
        .bind(new.call_id.as_str()),
        None => sqlx::query(
            "INSERT INTO sessions (tenant_id, call_id, channel, channel_id, user_id, user_name, \
             state, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'bot', ?, ?)",
        )
        .bind(t.0)
        .bind(new.call_id.as_str())
        .bind(&new.channel)
        .bind(&new.channel_id)
        .bind(&new.user.id)
        .bind(&new.user.name)
        .bind(to_millis(now))
        .bind(to_millis(now)),
    };
    query.execute(conn).await.map_err(store_error)?;
    Ok(true)
}

/// `WHERE` of chat records: the tenant's messages joined with their sessions.
fn push_chat_filters<'a>(
    qb: &mut QueryBuilder<'a, Sqlite>,
    t: TenantId,
    q: &'a ChatRecordQuery,
    channels: &'a [String],
) {
    qb.push(
        " FROM messages JOIN sessions ON sessions.tenant_id = messages.tenant_id \
         AND sessions.call_id = messages.call_id WHERE messages.tenant_id = ",
    )
    .push_bind(t.0);
    if !channels.is_empty() {
        qb.push(" AND lower(sessions.channel) IN (");
        let mut list = qb.separated(", ");
        for c in channels {
            list.push_bind(c.as_str());
        }
        qb.push(")");
    }
    if let Some(v) = &q.channel_id {
        qb.push(" AND sessions.channel_id = ").push_bind(v.as_str());
    }
    if let Some(v) = &q.user_id {
        qb.push(" AND sessions.user_id = ").push_bind(v.as_str());
    }
    if let Some(v) = &q.call_id {
        qb.push(" AND messages.call_id = ").push_bind(v.as_str());
    }
    if let Some(v) = &q.seat_id {
        qb.push(" AND messages.seat_id = ").push_bind(v.as_str());
    }
    if let Some(v) = q.from {
        qb.push(" AND messages.created_at >= ")
            .push_bind(to_millis(v));
    }
    if let Some(v) = q.to {
        qb.push(" AND messages.created_at <= ")
            .push_bind(to_millis(v));
    }
}

#[async_trait::async_trait]
impl ConversationStore for SqliteStore {
    async fn record_inbound(
        &self,
        t: TenantId,
        session: &NewSession,
        messages: &[Message],
        start: &Message,
        now: DateTime<Utc>,
    ) -> StoreResult<Inbound> {
        let call_id = &session.call_id;
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        let opened = open_or_reopen(&mut tx, t, session, now).await?;
        if opened {
            insert_new_message(&mut tx, t, call_id, start, now).await?;
        }
        let mut stored = Vec::with_capacity(messages.len());
        let mut inserted = 0;
        for m in messages {
            let row = match insert_message(&mut tx, t, call_id, m, now).await? {
                Some(row) => {
                    inserted += 1;
                    row
                }
                None => message_by_id(&mut tx, t, &m.msg_id).await?,
            };
            stored.push(row.try_into()?);
        }
        let session = touch(&mut tx, t, call_id, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(Inbound {
            session,
            opened,
            messages: stored,
            inserted,
        })
    }

    async fn append_message(
        &self,
        t: TenantId,
        call_id: &CallId,
        message: &Message,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<StoredMessage> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        session_in_state(&mut tx, t, call_id, false, "session is closed").await?;
        let stored = insert_new_message(&mut tx, t, call_id, message, now).await?;
        touch(&mut tx, t, call_id, now).await?;
        enqueue_events(&mut tx, t, events, now).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn session(&self, t: TenantId, call_id: &CallId) -> StoreResult<Session> {
        let mut conn = self.reader.acquire().await.map_err(store_error)?;
        session_row(&mut conn, t, call_id)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    async fn list_sessions(&self, t: TenantId, q: &SessionQuery) -> StoreResult<Vec<Session>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = "
        ));
        qb.push_bind(t.0);
        if let Some(after) = &q.after_call_id {
            let started_at: i64 = sqlx::query_scalar(
                "SELECT started_at FROM sessions WHERE tenant_id = ? AND call_id = ?",
            )
            .bind(t.0)
            .bind(after.as_str())
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
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
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn list_messages(
        &self,
        t: TenantId,
        q: &MessageQuery,
    ) -> StoreResult<Vec<StoredMessage>> {
        let cursor: Option<i64> = match &q.after_msg_id {
            None => None,
            Some(msg_id) => Some(
                sqlx::query_scalar(
                    "SELECT seq FROM messages WHERE tenant_id = ? AND call_id = ? AND msg_id = ?",
                )
                .bind(t.0)
                .bind(q.call_id.as_str())
                .bind(msg_id)
                .fetch_one(&self.reader)
                .await
                .map_err(store_error)?,
            ),
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
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(q.call_id.as_str())
            .bind(millis_or(q.since, i64::MIN))
            .bind(bound)
            .bind(i64::from(q.size))
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(StoredMessage::try_from).collect()
    }

    async fn mark_read(
        &self,
        t: TenantId,
        call_id: &CallId,
        msg_ids: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        session_row(&mut tx, t, call_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if msg_ids.is_some_and(<[String]>::is_empty) {
            return Ok(0);
        }
        let mut qb =
            QueryBuilder::<Sqlite>::new("UPDATE messages SET status = 'read', updated_at = ");
        qb.push_bind(to_millis(now))
            .push(" WHERE tenant_id = ")
            .push_bind(t.0)
            .push(" AND call_id = ")
            .push_bind(call_id.as_str())
            .push(" AND sender_type = 'user' AND (status IS NULL OR status <> 'read')");
        if let Some(ids) = msg_ids {
            qb.push(" AND msg_id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(id.as_str());
            }
            qb.push(")");
        }
        let changed = qb
            .build()
            .execute(&mut *tx)
            .await
            .map_err(store_error)?
            .rows_affected();
        tx.commit().await.map_err(store_error)?;
        Ok(changed)
    }

    async fn close_session(
        &self,
        t: TenantId,
        call_id: &CallId,
        reason: EndReason,
        close: &Message,
        now: DateTime<Utc>,
    ) -> StoreResult<Session> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        session_in_state(&mut tx, t, call_id, false, "session is already closed").await?;
        let sql = format!(
            "UPDATE sessions SET state = ?, end_reason = ?, ended_at = ?, updated_at = ? \
             WHERE tenant_id = ? AND call_id = ? RETURNING {SESSION_COLUMNS}"
        );
        let row: SessionRow = sqlx::query_as(&sql)
            .bind(SessionState::Closed.as_str())
            .bind(reason.as_str())
            .bind(to_millis(now))
            .bind(to_millis(now))
            .bind(t.0)
            .bind(call_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        insert_new_message(&mut tx, t, call_id, close, now).await?;
        tx.commit().await.map_err(store_error)?;
        row.try_into()
    }

    async fn save_report(
        &self,
        t: TenantId,
        call_id: &CallId,
        report: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<Session> {
        let mut tx = self.writer.begin().await.map_err(store_error)?;
        session_in_state(&mut tx, t, call_id, true, "session is still open").await?;
        let sql = format!(
            "UPDATE sessions SET report = ?, updated_at = ? WHERE tenant_id = ? AND call_id = ? \
             RETURNING {SESSION_COLUMNS}"
        );
        let row: SessionRow = sqlx::query_as(&sql)
            .bind(report.to_string())
            .bind(to_millis(now))
            .bind(t.0)
            .bind(call_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        row.try_into()
    }

    async fn chat_records(
        &self,
        t: TenantId,
        q: &ChatRecordQuery,
    ) -> StoreResult<(u64, Vec<ChatRecord>)> {
        let channels: Vec<String> = q.channels.iter().map(|c| c.to_lowercase()).collect();
        // One read transaction: the count and the page see the same snapshot.
        let mut tx = self.reader.begin().await.map_err(store_error)?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*)");
        push_chat_filters(&mut count, t, q, &channels);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut page =
            QueryBuilder::<Sqlite>::new(format!("SELECT {SESSION_COLUMNS}, {MESSAGE_COLUMNS}"));
        push_chat_filters(&mut page, t, q, &channels);
        let order = match q.order {
            SortOrder::NewestFirst => "DESC",
            SortOrder::OldestFirst => "ASC",
        };
        let size = i64::from(q.page_size);
        page.push(format!(" ORDER BY messages.seq {order} LIMIT "))
            .push_bind(size)
            .push(" OFFSET ")
            .push_bind(i64::from(q.page.max(1) - 1) * size);
        let rows: Vec<ChatRecordRow> = page
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let records = rows
            .into_iter()
            .map(ChatRecord::try_from)
            .collect::<StoreResult<_>>()?;
        Ok((u64::try_from(total).unwrap_or_default(), records))
    }
}
