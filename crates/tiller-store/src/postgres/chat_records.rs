//! nxlink chat records on PostgreSQL: a tenant's messages joined with their sessions,
//! filtered, counted and paged in one read transaction.

use sqlx::{PgPool, Postgres, QueryBuilder};
use tiller_core::{
    clock::to_millis,
    conversations::{ChatRecord, ChatRecordQuery, SortOrder},
    StoreResult, TenantId,
};

use crate::{
    error::store_error,
    rows::{ChatRecordRow, MESSAGE_COLUMNS, SESSION_COLUMNS},
};

/// `WHERE` of chat records: the tenant's messages joined with their sessions.
fn push_chat_filters<'a>(
    qb: &mut QueryBuilder<'a, Postgres>,
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

/// The total number of matching messages and the requested page.
pub(super) async fn query(
    pool: &PgPool,
    t: TenantId,
    q: &ChatRecordQuery,
) -> StoreResult<(u64, Vec<ChatRecord>)> {
    let channels: Vec<String> = q.channels.iter().map(|c| c.to_lowercase()).collect();
    // One read transaction: the count and the page see the same snapshot.
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*)");
    push_chat_filters(&mut count, t, q, &channels);
    let total: i64 = count
        .build_query_scalar()
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
    let mut page =
        QueryBuilder::<Postgres>::new(format!("SELECT {SESSION_COLUMNS}, {MESSAGE_COLUMNS}"));
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
