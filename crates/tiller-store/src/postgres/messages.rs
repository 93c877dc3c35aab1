//! Writes to a session's messages besides the inbound path and session changes, each in
//! the caller's transaction: the messages a channel sent on its own, mark-read, and the
//! channel's status reports.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    conversations::{
        plan_status_reports, require_open, CallId, ReportedMessage, Session, StatusReport,
        StatusReportOutcome, StoredMessage,
    },
    messages::Message,
    Entity, StoreError, StoreResult, TenantId,
};

use super::{
    conversations::{insert_message, locked_state, message_by_id, session_row, touch},
    webhooks::{enqueue_events, set_message_status},
};
use crate::{
    error::store_error,
    rows::{retried_in, ReportedRow},
};

/// `record_channel_messages`: into an open session (its row locked), a retried `msg_id`
/// returning what is stored.
pub(super) async fn record_sent(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    messages: &[Message],
    now: DateTime<Utc>,
) -> StoreResult<Vec<StoredMessage>> {
    require_open(locked_state(&mut *conn, t, call_id).await?)?;
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        let row = match insert_message(&mut *conn, t, call_id, m, now).await? {
            Some(row) => row,
            None => retried_in(message_by_id(&mut *conn, t, &m.msg_id).await?, call_id)?,
        };
        stored.push(row.try_into()?);
    }
    touch(conn, t, call_id, now).await?;
    Ok(stored)
}

/// `mark_read`.
pub(super) async fn mark(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    msg_ids: Option<&[String]>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    session_row(&mut *conn, t, call_id, false)
        .await?
        .ok_or(StoreError::NotFound(Entity::Session))?;
    if msg_ids.is_some_and(<[String]>::is_empty) {
        return Ok(0);
    }
    let mut qb =
        QueryBuilder::<Postgres>::new("UPDATE messages SET status = 'read', updated_at = ");
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
    let changed = qb.build().execute(conn).await.map_err(store_error)?;
    Ok(changed.rows_affected())
}

/// `report_statuses`: the session and the messages named, locked (`FOR UPDATE`, in `seq`
/// order) so delivery outcomes and other reports wait; core's plan; then each change from
/// the statuses it replaces and the callbacks for what moved.
pub(super) async fn report(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    reports: &[StatusReport],
    company: &str,
    now: DateTime<Utc>,
) -> StoreResult<StatusReportOutcome> {
    let session: Session = session_row(&mut *conn, t, call_id, true)
        .await?
        .ok_or(StoreError::NotFound(Entity::Session))?
        .try_into()?;
    let found = reported(&mut *conn, t, call_id, reports).await?;
    let plan = match plan_status_reports(company, &session, &found, reports) {
        Ok(plan) => plan,
        Err(why) => return Ok(StatusReportOutcome::Refused(why)),
    };
    for change in &plan.changes {
        let changed = set_message_status(&mut *conn, t, change, now).await?;
        enqueue_events(&mut *conn, t, &change.callbacks(changed, now), now).await?;
    }
    Ok(StatusReportOutcome::Applied(plan.statuses))
}

/// The session's messages among those `reports` name, locked.
async fn reported(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    reports: &[StatusReport],
) -> StoreResult<Vec<ReportedMessage>> {
    let ids: Vec<&str> = reports.iter().map(|r| r.msg_id.as_str()).collect();
    let rows: Vec<ReportedRow> = sqlx::query_as(
        "SELECT msg_id, sender_type, status FROM messages WHERE tenant_id = $1 \
         AND call_id = $2 AND msg_id = ANY($3) ORDER BY seq FOR UPDATE",
    )
    .bind(t.0)
    .bind(call_id.as_str())
    .bind(&ids)
    .fetch_all(conn)
    .await
    .map_err(store_error)?;
    rows.into_iter().map(ReportedMessage::try_from).collect()
}

/// Whether user messages wait after `answered_seq`. Its own statement, run once the
/// session's row is locked: a subquery of the locking `UPDATE` would read the snapshot the
/// statement started with and miss a user message committed while it waited for the lock.
pub(super) async fn user_messages_wait(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    answered_seq: i64,
) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE tenant_id = $1 AND call_id = $2 \
         AND seq > $3 AND sender_type = 'user')",
    )
    .bind(t.0)
    .bind(call_id.as_str())
    .bind(answered_seq)
    .fetch_one(conn)
    .await
    .map_err(store_error)
}
