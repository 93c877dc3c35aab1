//! Query parameters for sessions, messages and nxlink chat records.

use chrono::{DateTime, Utc};

use super::{CallId, Session, SessionState, StoredMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A page of one session's messages.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageQuery {
    pub call_id: CallId,
    /// Cursor: continue after this `msg_id` (in the query's order); `None` starts at the end.
    pub after_msg_id: Option<String>,
    /// Only messages created at or after this instant (the "last 24 hours" rule).
    pub since: Option<DateTime<Utc>>,
    pub size: u32,
    pub order: SortOrder,
}

/// A page of a tenant's sessions, most recently started first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionQuery {
    pub channel: Option<String>,
    pub channel_id: Option<String>,
    pub user_id: Option<String>,
    pub state: Option<SessionState>,
    pub started_from: Option<DateTime<Utc>>,
    pub started_to: Option<DateTime<Utc>>,
    /// Cursor: continue after this session.
    pub after_call_id: Option<CallId>,
    pub size: u32,
}

/// nxlink chat records: a tenant's messages across sessions, filtered and paged by number.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRecordQuery {
    /// Only sessions whose channel is one of these (case-insensitive); empty means all.
    pub channels: Vec<String>,
    pub channel_id: Option<String>,
    pub user_id: Option<String>,
    pub call_id: Option<CallId>,
    /// Only messages stored with this seat (a request's `agent_account` resolved by
    /// [`super::agent_filter`]).
    pub seat_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub order: SortOrder,
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

/// One chat record: a message with the session it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRecord {
    pub session: Session,
    pub message: StoredMessage,
}
