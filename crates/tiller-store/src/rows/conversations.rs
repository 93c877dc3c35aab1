//! Rows of `sessions` and `messages`, shared by both dialects.
//!
//! Column lists are qualified by table name and the message columns that a session also
//! has are aliased (`msg_…`), so the same lists serve single-table queries, `RETURNING`
//! clauses and the chat-records join.

use tiller_core::{
    clock::{from_millis, to_millis},
    conversations::{
        CallId, ChatRecord, ChatUser, EndReason, ReportedMessage, Session, SessionFacts,
        SessionState, StoredMessage,
    },
    messages::{Message, MessageStatus},
    StoreError, StoreResult, TenantId, Unique,
};

use super::SqliteRow;
use crate::error::{corrupt, json_error};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub tenant_id: i64,
    pub call_id: String,
    pub channel: String,
    pub channel_id: String,
    pub user_id: String,
    pub user_name: String,
    pub state: String,
    pub end_reason: Option<String>,
    pub seat_id: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
    pub report: Option<String>,
    pub robot_id: Option<i64>,
    pub robot_state: Option<String>,
    pub answered_seq: i64,
    pub turn_due: Option<i64>,
    pub state_version: i64,
    pub variables: Option<String>,
}

impl SqliteRow for SessionRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            tenant_id: r.get("tenant_id")?,
            call_id: r.get("call_id")?,
            channel: r.get("channel")?,
            channel_id: r.get("channel_id")?,
            user_id: r.get("user_id")?,
            user_name: r.get("user_name")?,
            state: r.get("state")?,
            end_reason: r.get("end_reason")?,
            seat_id: r.get("seat_id")?,
            started_at: r.get("started_at")?,
            ended_at: r.get("ended_at")?,
            updated_at: r.get("updated_at")?,
            report: r.get("report")?,
            robot_id: r.get("robot_id")?,
            robot_state: r.get("robot_state")?,
            answered_seq: r.get("answered_seq")?,
            turn_due: r.get("turn_due")?,
            state_version: r.get("state_version")?,
            variables: r.get("variables")?,
        })
    }
}

pub(crate) const SESSION_COLUMNS: &str = "sessions.tenant_id, sessions.call_id, \
     sessions.channel, sessions.channel_id, sessions.user_id, sessions.user_name, \
     sessions.state, sessions.end_reason, sessions.seat_id, sessions.started_at, \
     sessions.ended_at, sessions.updated_at, sessions.report, sessions.robot_id, \
     sessions.robot_state, sessions.answered_seq, sessions.turn_due, sessions.state_version, \
     sessions.variables";

/// The columns behind [`SessionFacts`]: what a write reads before core decides.
pub(crate) const FACTS_COLUMNS: &str =
    "sessions.state, sessions.robot_id IS NOT NULL AS has_robot, \
     sessions.turn_due, sessions.answered_seq";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FactsRow {
    pub state: String,
    pub has_robot: bool,
    pub turn_due: Option<i64>,
    pub answered_seq: i64,
}

impl SqliteRow for FactsRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            state: r.get("state")?,
            has_robot: r.get("has_robot")?,
            turn_due: r.get("turn_due")?,
            answered_seq: r.get("answered_seq")?,
        })
    }
}

impl TryFrom<FactsRow> for SessionFacts {
    type Error = StoreError;

    fn try_from(r: FactsRow) -> StoreResult<Self> {
        Ok(SessionFacts {
            state: session_state(&r.state)?,
            has_robot: r.has_robot,
            turn_due: r.turn_due.map(from_millis),
            answered_seq: r.answered_seq,
        })
    }
}

/// [`FACTS_COLUMNS`] after a change, with whether user messages wait after the (new)
/// `answered_seq`: what core needs to say whether a turn is due again, in the statement
/// that applies the change. SQLite only: its one writer means no other write can commit
/// between the statement's start and its lock (PostgreSQL asks in a statement of its own).
pub(crate) const CHANGED_COLUMNS: &str = "sessions.state, \
     sessions.robot_id IS NOT NULL AS has_robot, sessions.turn_due, sessions.answered_seq, \
     EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = sessions.tenant_id \
       AND m.call_id = sessions.call_id AND m.seq > sessions.answered_seq \
       AND m.sender_type = 'user') AS user_messages_wait";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChangedRow {
    #[sqlx(flatten)]
    pub facts: FactsRow,
    pub user_messages_wait: bool,
}

impl SqliteRow for ChangedRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            facts: FactsRow::read(r)?,
            user_messages_wait: r.get("user_messages_wait")?,
        })
    }
}

pub(crate) fn session_state(raw: &str) -> StoreResult<SessionState> {
    SessionState::parse(raw).ok_or_else(|| corrupt(format!("session state {raw:?}")))
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(Session {
            tenant: TenantId(r.tenant_id),
            call_id: call_id(&r.call_id)?,
            channel: r.channel,
            channel_id: r.channel_id,
            user: ChatUser {
                id: r.user_id,
                name: r.user_name,
            },
            state: session_state(&r.state)?,
            end_reason: r
                .end_reason
                .map(|raw| {
                    EndReason::parse(&raw)
                        .ok_or_else(|| corrupt(format!("session end_reason {raw:?}")))
                })
                .transpose()?,
            seat_id: r.seat_id,
            started_at: from_millis(r.started_at),
            ended_at: r.ended_at.map(from_millis),
            updated_at: from_millis(r.updated_at),
            report: r
                .report
                .map(|raw| serde_json::from_str(&raw).map_err(json_error))
                .transpose()?,
            robot_id: r.robot_id.map(|id| id.to_string()),
            robot_state: r
                .robot_state
                .map(|raw| serde_json::from_str(&raw).map_err(json_error))
                .transpose()?,
            answered_seq: r.answered_seq,
            turn_due: r.turn_due.map(from_millis),
            state_version: r.state_version,
            variables: r
                .variables
                .map(|raw| serde_json::from_str(&raw).map_err(json_error))
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub seq: i64,
    pub msg_call_id: String,
    pub msg_status: Option<String>,
    pub msg_seat_id: Option<String>,
    pub created_at: i64,
    pub msg_updated_at: i64,
    pub body: String,
}

impl SqliteRow for MessageRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get("seq")?,
            msg_call_id: r.get("msg_call_id")?,
            msg_status: r.get("msg_status")?,
            msg_seat_id: r.get("msg_seat_id")?,
            created_at: r.get("created_at")?,
            msg_updated_at: r.get("msg_updated_at")?,
            body: r.get("body")?,
        })
    }
}

pub(crate) const MESSAGE_COLUMNS: &str = "messages.seq, messages.call_id AS msg_call_id, \
     messages.status AS msg_status, messages.seat_id AS msg_seat_id, messages.created_at, \
     messages.updated_at AS msg_updated_at, messages.body";

impl TryFrom<MessageRow> for StoredMessage {
    type Error = StoreError;

    /// The body is the message as it was written; the `status` and `seat_id` columns are
    /// authoritative over the body's copies (e.g. `mark_read` changes only the column).
    fn try_from(r: MessageRow) -> StoreResult<Self> {
        let mut message: Message = serde_json::from_str(&r.body).map_err(json_error)?;
        message.status = r.msg_status.as_deref().map(status).transpose()?;
        message.seat_id = r.msg_seat_id;
        Ok(StoredMessage {
            seq: r.seq,
            call_id: call_id(&r.msg_call_id)?,
            message,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.msg_updated_at),
        })
    }
}

/// A retried message, found by its `msg_id`: it must belong to the session being written
/// to. The same id in another session of the tenant is a conflict, not a retry.
pub(crate) fn retried_in(row: MessageRow, call_id: &CallId) -> StoreResult<MessageRow> {
    if row.msg_call_id == call_id.as_str() {
        Ok(row)
    } else {
        Err(StoreError::Conflict(Unique::MessageMsgId))
    }
}

/// A message joined with its session: [`SESSION_COLUMNS`] then [`MESSAGE_COLUMNS`].
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChatRecordRow {
    #[sqlx(flatten)]
    pub session: SessionRow,
    #[sqlx(flatten)]
    pub message: MessageRow,
}

impl SqliteRow for ChatRecordRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            session: SessionRow::read(r)?,
            message: MessageRow::read(r)?,
        })
    }
}

impl TryFrom<ChatRecordRow> for ChatRecord {
    type Error = StoreError;

    fn try_from(r: ChatRecordRow) -> StoreResult<Self> {
        Ok(ChatRecord {
            session: r.session.try_into()?,
            message: r.message.try_into()?,
        })
    }
}

/// What a status report reads of each message it names.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReportedRow {
    pub msg_id: String,
    pub sender_type: String,
    pub status: Option<String>,
}

impl SqliteRow for ReportedRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            msg_id: r.get("msg_id")?,
            sender_type: r.get("sender_type")?,
            status: r.get("status")?,
        })
    }
}

impl TryFrom<ReportedRow> for ReportedMessage {
    type Error = StoreError;

    fn try_from(r: ReportedRow) -> StoreResult<Self> {
        let raw = serde_json::Value::String(r.sender_type);
        let sender_type = serde_json::from_value(raw.clone())
            .map_err(|_| corrupt(format!("message sender_type {raw}")))?;
        Ok(ReportedMessage {
            msg_id: r.msg_id,
            sender_type,
            status: r.status.as_deref().map(status).transpose()?,
        })
    }
}

/// The values a message insert binds, derived from the wire [`Message`], in the order of
/// `(msg_id, sender_type, status, seat_id, content_type, ts, body)`.
#[derive(Debug)]
pub(crate) struct NewMessageRow<'a> {
    pub msg_id: &'a str,
    pub sender_type: &'static str,
    pub status: Option<&'static str>,
    pub seat_id: Option<&'a str>,
    pub content_type: &'a str,
    pub ts: i64,
    pub body: String,
}

impl<'a> NewMessageRow<'a> {
    pub fn of(m: &'a Message) -> StoreResult<Self> {
        Ok(Self {
            msg_id: &m.msg_id,
            sender_type: m.sender_type.as_str(),
            status: m.status.map(MessageStatus::as_str),
            seat_id: m.seat_id.as_deref(),
            content_type: m.content.kind(),
            ts: m.timestamp,
            body: serde_json::to_string(m).map_err(json_error)?,
        })
    }
}

/// Milliseconds for a bind; `None` becomes the given bound, so optional filters stay in
/// one static statement.
pub(crate) fn millis_or(t: Option<chrono::DateTime<chrono::Utc>>, bound: i64) -> i64 {
    t.map_or(bound, to_millis)
}

fn call_id(raw: &str) -> StoreResult<CallId> {
    CallId::parse(raw).map_err(|e| corrupt(format!("call_id {raw:?}: {e}")))
}

/// A `status` column, read with the wire type's own spellings.
fn status(raw: &str) -> StoreResult<MessageStatus> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| corrupt(format!("message status {raw:?}")))
}

#[cfg(test)]
mod tests {
    use tiller_core::messages::MessageStatus;

    use super::status;

    #[test]
    fn status_columns_read_back_as_written() {
        for s in [
            MessageStatus::Sent,
            MessageStatus::Delivery,
            MessageStatus::Read,
            MessageStatus::Failed,
        ] {
            assert_eq!(status(s.as_str()).unwrap(), s);
        }
        assert!(status("bogus").is_err());
    }
}
