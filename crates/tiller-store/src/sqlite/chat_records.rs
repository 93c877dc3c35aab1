//! nxlink chat records on SQLite: a tenant's messages joined with their sessions,
//! filtered, counted and paged in one read transaction.

use rusqlite::Connection;
use tiller_core::{
    clock::to_millis,
    conversations::{CallId, ChatRecord, ChatRecordQuery, SortOrder},
    StoreResult, TenantId,
};

use super::statements::Query;
use crate::rows::{ChatRecordRow, MESSAGE_COLUMNS, SESSION_COLUMNS};

/// `WHERE` of chat records: the tenant's messages joined with their sessions.
fn push_chat_filters(query: &mut Query, t: TenantId, q: &ChatRecordQuery) {
    query
        .push(
            " FROM messages JOIN sessions ON sessions.tenant_id = messages.tenant_id \
             AND sessions.call_id = messages.call_id WHERE messages.tenant_id = ",
        )
        .bind(t.0);
    if !q.channels.is_empty() {
        query
            .push(" AND lower(sessions.channel) IN (")
            .bind_list(q.channels.iter().map(|c| c.to_lowercase()))
            .push(")");
    }
    let equal = [
        ("sessions.channel_id", q.channel_id.as_deref()),
        ("sessions.user_id", q.user_id.as_deref()),
        ("messages.call_id", q.call_id.as_ref().map(CallId::as_str)),
        ("messages.seat_id", q.seat_id.as_deref()),
    ];
    for (column, value) in equal {
        if let Some(v) = value {
            query.push(&format!(" AND {column} = ")).bind(v.to_owned());
        }
    }
    if let Some(v) = q.from {
        query
            .push(" AND messages.created_at >= ")
            .bind(to_millis(v));
    }
    if let Some(v) = q.to {
        query
            .push(" AND messages.created_at <= ")
            .bind(to_millis(v));
    }
}

/// The total number of matching messages and the requested page. The caller runs it in
/// one read transaction, so the count and the page see the same snapshot.
pub(super) fn query(
    conn: &Connection,
    t: TenantId,
    q: &ChatRecordQuery,
) -> StoreResult<(u64, Vec<ChatRecord>)> {
    let mut count = Query::new("SELECT COUNT(*)");
    push_chat_filters(&mut count, t, q);
    let total: i64 = count.one(conn)?;
    let mut page = Query::new(format!("SELECT {SESSION_COLUMNS}, {MESSAGE_COLUMNS}"));
    push_chat_filters(&mut page, t, q);
    let order = match q.order {
        SortOrder::NewestFirst => "DESC",
        SortOrder::OldestFirst => "ASC",
    };
    let size = i64::from(q.page_size);
    page.push(&format!(" ORDER BY messages.seq {order} LIMIT "))
        .bind(size)
        .push(" OFFSET ")
        .bind(i64::from(q.page.max(1) - 1) * size);
    let rows: Vec<ChatRecordRow> = page.all(conn)?;
    let records = rows
        .into_iter()
        .map(ChatRecordRow::try_into)
        .collect::<StoreResult<_>>()?;
    Ok((u64::try_from(total).unwrap_or_default(), records))
}
