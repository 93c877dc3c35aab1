//! Writes to a session's messages besides the inbound path and session changes, on the
//! writer thread: the messages a channel sent on its own, mark-read, and the channel's
//! status reports.

use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, types::Value, Connection};
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
    conversations::{insert_message, message_by_id, session_row, state_of, touch},
    statements::{all, execute, placeholders},
    webhooks::{enqueue_events, set_message_status},
};
use crate::rows::{retried_in, ReportedRow};

/// `record_channel_messages` on the writer thread: into an open session, a retried
/// `msg_id` returning what is stored.
pub(super) fn record_sent(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    messages: &[Message],
    now: DateTime<Utc>,
) -> StoreResult<Vec<StoredMessage>> {
    require_open(state_of(conn, t, call_id)?)?;
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        stored.push(match insert_message(conn, t, call_id, m, now)? {
            Some(inserted) => inserted,
            None => retried_in(message_by_id(conn, t, &m.msg_id)?, call_id)?.try_into()?,
        });
    }
    touch(conn, t, call_id, now)?;
    Ok(stored)
}

/// `mark_read` on the writer thread.
pub(super) fn mark(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    msg_ids: Option<&[String]>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    session_row(conn, t, call_id)?.ok_or(StoreError::NotFound(Entity::Session))?;
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

/// `report_statuses` on the writer thread: the session and the messages named (the
/// writer job is the lock), core's plan, then each change from the statuses it replaces
/// and the callbacks for what moved.
pub(super) fn report(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    reports: &[StatusReport],
    company: &str,
    now: DateTime<Utc>,
) -> StoreResult<StatusReportOutcome> {
    let session: Session = session_row(conn, t, call_id)?
        .ok_or(StoreError::NotFound(Entity::Session))?
        .try_into()?;
    let found = reported(conn, t, call_id, reports)?;
    let plan = match plan_status_reports(company, &session, &found, reports) {
        Ok(plan) => plan,
        Err(why) => return Ok(StatusReportOutcome::Refused(why)),
    };
    for change in &plan.changes {
        let changed = set_message_status(conn, t, change, now)?;
        enqueue_events(conn, t, &change.callbacks(changed, now), now)?;
    }
    Ok(StatusReportOutcome::Applied(plan.statuses))
}

/// The session's messages among those `reports` name.
fn reported(
    conn: &Connection,
    t: TenantId,
    call_id: &CallId,
    reports: &[StatusReport],
) -> StoreResult<Vec<ReportedMessage>> {
    let sql = format!(
        "SELECT msg_id, sender_type, status FROM messages WHERE tenant_id = ? AND call_id = ? \
         AND msg_id IN ({}) ORDER BY seq",
        placeholders(reports.len())
    );
    let mut values = vec![Value::from(t.0), Value::from(call_id.as_str().to_owned())];
    values.extend(reports.iter().map(|r| Value::from(r.msg_id.clone())));
    let rows: Vec<ReportedRow> = all(conn, &sql, params_from_iter(values))?;
    rows.into_iter().map(ReportedMessage::try_from).collect()
}
